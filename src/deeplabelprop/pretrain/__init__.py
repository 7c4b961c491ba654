"""Metric pretraining: instance discrimination, NCA, supervised bootstrap."""

from ..data.stream import ImageStream
from .losses import (
    estimate_log_partition,
    instance_nce_loss,
    instance_softmax_loss,
    nca_loss,
    two_view_loss,
    weighted_knn_predict,
)
from .memory_bank import MemoryBank
from .monitor import KnnMonitor
from .tasks import InstanceDiscrimination, NCAPretraining, SupervisedBootstrap

__all__ = [
    "ImageStream",
    "InstanceDiscrimination",
    "KnnMonitor",
    "MemoryBank",
    "NCAPretraining",
    "SupervisedBootstrap",
    "estimate_log_partition",
    "instance_nce_loss",
    "instance_softmax_loss",
    "nca_loss",
    "two_view_loss",
    "weighted_knn_predict",
]
