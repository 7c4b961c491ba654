"""deeplabelprop: label propagation over deep embeddings.

Pseudo labels with calibrated confidence from a handful of labels and a large unlabeled pool:
kNN graphs, four propagators (diffusion, spectral, knn-vote, local), confidence weights, and a
scikit-learn estimator.
"""

from .errors import InputError
from .estimator import LabelPropagator
from .propagation import PROPAGATORS, Pipeline, PropagationResult, make_propagator

__version__ = "0.1.0"

__all__ = [
    "PROPAGATORS",
    "InputError",
    "LabelPropagator",
    "Pipeline",
    "PropagationResult",
    "make_propagator",
    "propagate",
    "__version__",
]


def propagate(
    features,
    labels,
    method: str = "diffusion",
    n_classes: int | None = None,
    *,
    calibration: str = "auto",
    weight: str = "own",
    random_state: int = 0,
    graph=None,
    audit=None,
    **params,
) -> PropagationResult:
    """Propagate ``labels`` (-1 = unlabeled) over ``features`` (n, d) with the named method:
    ``Pipeline(method, weight, params, calibration).run(...)``.

    ``confidence`` is the probability that each pseudo label is right, calibrated on held-out
    labels (by the map the method declares unless ``calibration`` names one;
    ``calibration="none"`` leaves the top class probability); ``out_of_fold`` holds each given
    label's class when it was hidden, ``estimated_accuracy`` the expected accuracy with its
    interval. Size parameters left at their default are fitted to the data. ``graph``: a file
    to keep the prepared graph in and reuse it from (a new round of labels costs one solve).
    ``audit``: the given labels drawn uniformly at random (a mask or row numbers): the
    estimate then says how they fared when hidden, a check on labels chosen by ``suggest``.

    >>> import numpy as np
    >>> x = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]])
    >>> propagate(x, np.array([0, -1, 1, -1]), method="knn-vote").labels.tolist()
    [0, 0, 1, 1]
    """
    pipeline = Pipeline(method, weight, params, calibration)
    pipeline.validate(prefix="")
    return pipeline.run(features, labels, n_classes, seed=random_state, graph=graph, audit=audit)
