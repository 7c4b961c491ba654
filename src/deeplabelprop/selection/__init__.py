"""Which images to label next: typical points that cover the embedding at a cold start, then
uncertain points where the pseudo labels are weak, diverse within a batch (``suggest``)."""

from .suggest import REASONS, Suggestion, suggest
from .typicality import cover_clusters, typicality

__all__ = ["REASONS", "Suggestion", "cover_clusters", "suggest", "typicality"]
