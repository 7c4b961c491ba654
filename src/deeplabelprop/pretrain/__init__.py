"""Metric pretraining: instance discrimination, NCA, supervised bootstrap; the metric stage."""

from .losses import (
    estimate_log_partition,
    instance_nce_loss,
    instance_softmax_loss,
    nca_loss,
    two_view_loss,
    weighted_knn_predict,
)
from .monitor import KnnMonitor
from .run import train_metric
from .settings import MetricSettings
from .tasks import InstanceDiscrimination, NCAPretraining, SupervisedBootstrap

__all__ = [
    "InstanceDiscrimination",
    "KnnMonitor",
    "MetricSettings",
    "NCAPretraining",
    "SupervisedBootstrap",
    "estimate_log_partition",
    "instance_nce_loss",
    "instance_softmax_loss",
    "nca_loss",
    "train_metric",
    "two_view_loss",
    "weighted_knn_predict",
]
