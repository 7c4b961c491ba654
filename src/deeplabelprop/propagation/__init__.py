"""Propagators (one per file, registered by name), the one pipeline that runs them, their
result type, out-of-fold results, calibration, training weights and class-balance weights."""

from .accuracy import AccuracyEstimate
from .base import GraphPropagator, Prepared, Propagator, label_matrix
from .cg import conjugate_gradient
from .confidence import (
    class_balance_weights,
    entropy_weight,
    margin_confidence,
    select_confident,
    top_probability,
)
from .out_of_fold import OutOfFold, label_folds
from .registry import (
    PROPAGATORS,
    check_method_params,
    discover,
    fit_to_size,
    get_propagator_class,
    make_propagator,
    methods_taking,
    parameter_names,
    register_propagator,
)
from .result import PropagationResult, normalize_rows
from .weights import WEIGHTS, example_weights

discover()  # every module of this package registers its propagator

from .diffusion import Diffusion, diffuse  # noqa: E402
from .knn_vote import KnnVote, knn_vote_log_scores  # noqa: E402
from .local import LocalPropagation, labeled_log_density, local_votes  # noqa: E402
from .pipeline import Pipeline  # noqa: E402
from .spectral import Spectral, spectral_basis, spectral_vote  # noqa: E402

__all__ = [
    "PROPAGATORS",
    "WEIGHTS",
    "AccuracyEstimate",
    "Diffusion",
    "GraphPropagator",
    "KnnVote",
    "LocalPropagation",
    "OutOfFold",
    "Pipeline",
    "Prepared",
    "PropagationResult",
    "Propagator",
    "Spectral",
    "check_method_params",
    "class_balance_weights",
    "conjugate_gradient",
    "diffuse",
    "discover",
    "entropy_weight",
    "example_weights",
    "fit_to_size",
    "get_propagator_class",
    "knn_vote_log_scores",
    "label_folds",
    "label_matrix",
    "labeled_log_density",
    "local_votes",
    "make_propagator",
    "margin_confidence",
    "methods_taking",
    "normalize_rows",
    "parameter_names",
    "register_propagator",
    "select_confident",
    "spectral_basis",
    "spectral_vote",
    "top_probability",
]
