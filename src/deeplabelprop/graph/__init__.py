"""kNN graphs: search backends, affinities, symmetrisation and normalisation."""

from .affinity import (
    KERNELS,
    adjacency,
    edge_weights,
    exp_affinity,
    heat_affinity,
    locally_scaled_heat,
    normalize_symmetric,
    power_affinity,
    symmetrize,
)
from .build import Graph, knn_graph
from .knn import (
    BACKENDS,
    SearchPlan,
    default_device,
    knn,
    knn_search,
    l2_normalize,
    neighbor_recall,
    plan_search,
)

__all__ = [
    "BACKENDS",
    "KERNELS",
    "Graph",
    "SearchPlan",
    "adjacency",
    "edge_weights",
    "exp_affinity",
    "heat_affinity",
    "knn",
    "knn_graph",
    "knn_search",
    "default_device",
    "l2_normalize",
    "locally_scaled_heat",
    "neighbor_recall",
    "normalize_symmetric",
    "plan_search",
    "power_affinity",
    "symmetrize",
]

from .spectrum import EIGEN_METHODS, Spectrum, chebyshev_filter, laplacian_eigenpairs  # noqa: E402

__all__ += ["EIGEN_METHODS", "Spectrum", "chebyshev_filter", "laplacian_eigenpairs"]
