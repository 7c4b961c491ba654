"""deeplabelprop: label propagation over deep embeddings.

Pseudo labels with calibrated confidence from a handful of labels and a large unlabeled pool:
kNN graphs, four propagators (diffusion, spectral, knn-vote, local), confidence weights, and a
scikit-learn estimator.
"""

from .errors import InputError
from .estimator import LabelPropagator
from .propagation import PROPAGATORS, PropagationResult, make_propagator

__version__ = "0.1.0"

__all__ = [
    "PROPAGATORS",
    "InputError",
    "LabelPropagator",
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
    **params,
) -> PropagationResult:
    """Propagate ``labels`` (-1 = unlabeled) over ``features`` (n, d) with the named method.

    ``confidence`` is calibrated (the probability that each pseudo label is right, fitted on
    held-out labels, by the map the method declares unless ``calibration`` names one;
    ``calibration="none"`` keeps the method's own); size parameters left at
    their default are fitted to the data.

    >>> import numpy as np
    >>> x = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]])
    >>> propagate(x, np.array([0, -1, 1, -1]), method="knn-vote").labels.tolist()
    [0, 0, 1, 1]
    """
    from .propagation.calibration import propagate_calibrated

    propagator = make_propagator(method, n_samples=len(labels), **params)
    return propagate_calibrated(propagator, features, labels, n_classes, method=calibration)
