"""Few-shot recognition with unlabeled data (DMT §4.3): episodes on embeddings and the rows of
DMT's Table 7 (nearest neighbour, prototypes, soft k-means, propagation)."""

from .classifiers import (
    evaluate,
    nearest_neighbour,
    propagation,
    prototypes,
    rows,
    soft_kmeans,
)
from .episodes import Episode, EpisodeSpec, labeled_part, mean_and_interval, sample_episodes

__all__ = [
    "Episode",
    "EpisodeSpec",
    "evaluate",
    "labeled_part",
    "mean_and_interval",
    "nearest_neighbour",
    "propagation",
    "prototypes",
    "rows",
    "sample_episodes",
    "soft_kmeans",
]
