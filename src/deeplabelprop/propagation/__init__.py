"""Propagators (one per file), their result type, confidence and class-balance weights."""

from .base import label_matrix
from .cg import conjugate_gradient
from .confidence import (
    class_balance_weights,
    entropy_weight,
    margin_confidence,
    select_confident,
    top_probability,
)
from .diffusion import Diffusion, diffuse
from .knn_vote import KnnVote, knn_vote_log_scores
from .local import LocalPropagation, labeled_log_density, local_votes
from .registry import PROPAGATORS, get_propagator_class, make_propagator, parameter_names
from .result import PropagationResult, normalize_rows
from .spectral import Spectral, spectral_basis, spectral_vote

__all__ = [
    "PROPAGATORS",
    "Diffusion",
    "KnnVote",
    "LocalPropagation",
    "PropagationResult",
    "Spectral",
    "class_balance_weights",
    "conjugate_gradient",
    "diffuse",
    "entropy_weight",
    "get_propagator_class",
    "knn_vote_log_scores",
    "label_matrix",
    "labeled_log_density",
    "local_votes",
    "make_propagator",
    "margin_confidence",
    "normalize_rows",
    "parameter_names",
    "select_confident",
    "spectral_basis",
    "spectral_vote",
    "top_probability",
]
