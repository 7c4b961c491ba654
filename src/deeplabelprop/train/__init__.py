"""Training engine: one loop, weighted losses, EMA teacher, atomic checkpoints."""

from .checkpoint import load_checkpoint, save_checkpoint
from .classification import AccuracyMonitor, WeightedClassification
from .ema import EMATeacher
from .loop import TrainConfig, TrainingDiverged, train
from .losses import weighted_cross_entropy
from .schedule import cosine_lr

__all__ = [
    "AccuracyMonitor",
    "WeightedClassification",
    "EMATeacher",
    "TrainConfig",
    "TrainingDiverged",
    "cosine_lr",
    "load_checkpoint",
    "save_checkpoint",
    "train",
    "weighted_cross_entropy",
]
