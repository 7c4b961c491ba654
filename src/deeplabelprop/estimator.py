"""``LabelPropagator``: a scikit-learn classifier around the propagators.

Transductive ``fit`` (labels of -1 mark the unlabeled points) and inductive ``predict`` for new
points through their nearest neighbours among the fitted points.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._labels import encode_labels, unlabeled_mask
from .errors import InputError
from .graph import knn_search, l2_normalize
from .propagation import Pipeline, PropagationResult, get_propagator_class, methods_taking
from .propagation.parameters import PARAMETERS


class LabelPropagator(ClassifierMixin, BaseEstimator):
    """Semi-supervised classifier by label propagation over embeddings.

    Parameters
    ----------
    method : str, default="diffusion"
        A registered propagator (``deeplabelprop.PROPAGATORS``: diffusion, harmonic, knn-vote,
        local, spectral).
    n_neighbors, alpha, gamma, tau, max_iter, tol : optional
        Forwarded to the propagator when it takes them; None keeps its paper default.
        A defaulted ``n_neighbors`` (and spectral's η, local's T) is capped at what the data
        allows; an explicit value that is too large is an error.
    method_params : dict, optional
        Any other parameter of the propagator, e.g. ``{"n_components": 100,
        "spectral_filter": "inverse"}`` for ``spectral``.
    predict_neighbors : int, default=10
        Fitted points whose label distributions vote for a new point in ``predict``,
        weighted by [cosine similarity]_+^3.
    unlabeled : scalar, default=-1
        The value of ``y`` that marks an unlabeled point (``np.nan``, ``""`` or ``None`` work
        too). String labels with empty strings need ``unlabeled=""``: they are never made a class.
    calibration : {"auto", "temperature", "platt", "isotonic", "none"}, default="auto"
        How ``confidence_`` is made a probability that the pseudo label is right, fitted on the
        labeled points by held-out folds; "auto" is the map the method declares
        (:mod:`deeplabelprop.propagation.calibration`).
    backend, device, random_state
        kNN backend ("auto", "faiss", "torch"), torch device, and the seed.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)          the labels seen in ``y`` (any values)
    transduction_ : ndarray of shape (n_samples,)     a label for every fitted point
    label_distributions_ : ndarray of shape (n_samples, n_classes)
    confidence_ : ndarray of shape (n_samples,)       P(pseudo label is right); 1 for labeled points
    n_iter_ : int
    label_issues_ : LabelIssues                       per row: ``suspect`` (a given label that
        looks wrong), ``score`` and ``oof_label`` (the class index it gets when held out; -1
        where not checked)
    result_ : PropagationResult                       everything the pipeline returned

    Examples
    --------
    >>> import numpy as np
    >>> from deeplabelprop import LabelPropagator
    >>> X = np.array([[0.0, 1.0], [0.1, 1.0], [0.2, 1.0], [1.0, 0.0], [1.0, 0.1], [1.0, 0.2]])
    >>> y = np.array(["cat", -1, -1, "dog", -1, -1], dtype=object)
    >>> LabelPropagator(method="knn-vote").fit(X, y).transduction_.tolist()
    ['cat', 'cat', 'cat', 'dog', 'dog', 'dog']
    """

    def __init__(
        self,
        method: str = "diffusion",
        *,
        n_neighbors: int | None = None,
        alpha: float | None = None,
        gamma: float | None = None,
        tau: float | None = None,
        max_iter: int | None = None,
        tol: float | None = None,
        method_params: dict | None = None,
        predict_neighbors: int = 10,
        unlabeled=-1,
        calibration: str = "auto",
        backend: str | None = None,
        device: str | None = None,
        random_state: int = 0,
    ):
        self.method = method
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.gamma = gamma
        self.tau = tau
        self.max_iter = max_iter
        self.tol = tol
        self.method_params = method_params
        self.predict_neighbors = predict_neighbors
        self.unlabeled = unlabeled
        self.calibration = calibration
        self.backend = backend
        self.device = device
        self.random_state = random_state

    def _pipeline(self) -> Pipeline:
        """The pipeline of these settings: ``method_params`` plus every parameter of the one
        table (:mod:`deeplabelprop.propagation.parameters`) this estimator has and sets."""
        fields = {f.name for f in dataclasses.fields(get_propagator_class(self.method))}
        params = dict(self.method_params or {})
        for parameter in PARAMETERS:
            value = getattr(self, parameter.name, None)
            if value is None:
                continue
            if parameter.name not in fields:
                takers = ", ".join(methods_taking(parameter.name)) or "no method"
                raise InputError(
                    f"method {self.method!r} does not take {parameter.name} ({takers} take it); "
                    "leave it None"
                )
            params[parameter.name] = value
        pipeline = Pipeline(self.method, params=params, calibration=self.calibration)
        pipeline.validate(prefix="")
        return pipeline

    def fit(self, X, y):
        """Propagate the labels of ``y`` (``unlabeled`` marks the rest) over ``X`` (n, d)."""
        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=2)
        y = column_or_1d(y, warn=True)
        if y.shape[0] != X.shape[0]:
            raise InputError(f"y has {y.shape[0]} entries but X has {X.shape[0]} rows")
        y_int, self.classes_ = encode_labels(y, self.unlabeled)
        check_classification_targets(y[y_int >= 0])
        result: PropagationResult = self._pipeline().run(
            X, y_int, len(self.classes_), seed=self.random_state
        )
        self.result_ = result
        self.transduction_ = self.classes_[result.labels]
        self.label_distributions_ = result.probabilities
        self.confidence_ = result.confidence
        self.n_iter_ = result.n_iter
        self.label_issues_ = result.label_issues()
        self._fit_unit = l2_normalize(X)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities for new points: the label distributions of their nearest fitted
        points, weighted by [cos]_+^3 (Iscen eq. 9's affinity); a plain mean if all weights are 0.

        Exact search, so each row's answer depends on that row alone.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        fitted = self._fit_unit
        k = min(self.predict_neighbors, fitted.shape[0])
        sims, idx = knn_search(l2_normalize(X), fitted, k, backend="faiss")
        w = np.clip(sims.astype(np.float64), 0.0, None) ** 3  # (m, k)
        w[w.sum(axis=1) == 0] = 1.0
        proba = np.einsum("mk,mkc->mc", w, self.label_distributions_[idx]) / w.sum(
            axis=1, keepdims=True
        )
        return proba

    def predict(self, X) -> np.ndarray:
        """The most probable class of each new point."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy of :meth:`predict` on the labeled rows of ``y`` (unlabeled rows are not
        targets), so model selection (``GridSearchCV``) needs no custom scorer."""
        y = column_or_1d(y, warn=True)
        known = ~unlabeled_mask(y, self.unlabeled)
        if not known.any():
            raise InputError("score needs labeled rows; every y is the unlabeled marker")
        weights = None if sample_weight is None else np.asarray(sample_weight)[known]
        from sklearn.metrics import accuracy_score

        return float(
            accuracy_score(y[known], self.predict(np.asarray(X)[known]), sample_weight=weights)
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
