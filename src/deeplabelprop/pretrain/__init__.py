"""Metric pretraining: instance discrimination, NCA, supervised bootstrap."""

from .losses import (
    estimate_log_partition,
    instance_nce_loss,
    instance_softmax_loss,
    nca_loss,
    weighted_knn_predict,
)
from .memory_bank import MemoryBank
from .tasks import InstanceDiscrimination, NCAPretraining, SupervisedBootstrap, embed_images

__all__ = [
    "InstanceDiscrimination",
    "MemoryBank",
    "NCAPretraining",
    "SupervisedBootstrap",
    "embed_images",
    "estimate_log_partition",
    "instance_nce_loss",
    "instance_softmax_loss",
    "nca_loss",
    "weighted_knn_predict",
]
