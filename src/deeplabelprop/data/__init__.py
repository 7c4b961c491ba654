"""Data: readers (IDX, CIFAR pickles, image folders, npz, digits) in one registry, data sets with
unknown labels, the problem a recipe solves, splits, augmentations and the training stream."""

from .arrays import load_features, load_labels
from .augment import InstanceAugment, ShiftFlip, to_tensor
from .cifar import load_cifar
from .dataset import UNKNOWN, ImageDataset, channel_statistics
from .digits import load_digits_dataset
from .files import FileImages
from .folder import load_image_folder
from .idx import read_idx
from .mnist import load_idx_dataset
from .npz import load_npz_images
from .options import LoadOptions
from .problem import Problem, load_problem
from .registry import DATASETS, dataset_entry, datasets, load_dataset, register_dataset
from .sampling import TwoStreamBatchSampler
from .splits import Split, load_split, make_split, save_split
from .stream import Batch, ImageStream

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
