"""Training engine: one loop over a typed task, weighted losses, EMA teacher, atomic checkpoints,
the memory bank, and the tasks of the recipes."""

from .checkpoint import load_checkpoint, save_checkpoint
from .classification import AccuracyMonitor, WeightedClassification
from .ema import EMATeacher
from .loop import TrainConfig, TrainingDiverged, train
from .losses import weighted_cross_entropy
from .memory_bank import MemoryBank
from .schedule import cosine_lr
from .task import Task

__all__ = [
    "AccuracyMonitor",
    "EMATeacher",
    "MemoryBank",
    "Task",
    "TrainConfig",
    "TrainingDiverged",
    "WeightedClassification",
    "cosine_lr",
    "load_checkpoint",
    "save_checkpoint",
    "train",
    "weighted_cross_entropy",
]
