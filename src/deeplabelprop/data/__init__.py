"""Data: readers (IDX, CIFAR pickles, image folders, npz, digits) in one registry, data sets with
unknown labels, the problem a recipe solves, splits, augmentations and the training stream."""

from .arrays import load_features, load_labels
from .images.augment import InstanceAugment, ShiftFlip, to_tensor
from .images.dataset import UNKNOWN, ImageDataset, channel_statistics
from .images.files import FileImages
from .images.sampling import TwoStreamBatchSampler
from .images.stream import Batch, ImageStream
from .problem.problem import Problem, load_problem
from .problem.splits import Split, load_split, make_split, save_split
from .readers.cifar import load_cifar
from .readers.digits import load_digits_dataset
from .readers.folder import load_image_folder
from .readers.idx import read_idx
from .readers.mnist import load_idx_dataset
from .readers.npz import load_npz_images
from .readers.options import LoadOptions
from .readers.registry import DATASETS, dataset_entry, datasets, load_dataset, register_dataset

__all__ = [
    "DATASETS",
    "UNKNOWN",
    "Batch",
    "FileImages",
    "ImageDataset",
    "ImageStream",
    "InstanceAugment",
    "LoadOptions",
    "Problem",
    "ShiftFlip",
    "Split",
    "TwoStreamBatchSampler",
    "channel_statistics",
    "dataset_entry",
    "datasets",
    "load_cifar",
    "load_dataset",
    "load_digits_dataset",
    "load_features",
    "load_idx_dataset",
    "load_image_folder",
    "load_labels",
    "load_npz_images",
    "load_problem",
    "load_split",
    "make_split",
    "read_idx",
    "register_dataset",
    "save_split",
    "to_tensor",
]
