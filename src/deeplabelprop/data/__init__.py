"""Data: readers (IDX, CIFAR pickles, image folders, arrays, digits), splits, augmentations."""

from .arrays import load_features, load_labels
from .augment import InstanceAugment, ShiftFlip, to_tensor
from .cifar import load_cifar
from .dataset import ImageDataset
from .digits import load_digits_dataset
from .folder import load_image_folder
from .idx import read_idx
from .mnist import load_idx_dataset
from .npz import load_npz_images
from .registry import DATASETS, load_dataset
from .sampling import InMemoryImages, TwoStreamBatchSampler
from .splits import Split, load_split, make_split, save_split
from .stream import ImageStream

__all__ = [
    "DATASETS",
    "ImageDataset",
    "ImageStream",
    "InMemoryImages",
    "InstanceAugment",
    "ShiftFlip",
    "Split",
    "TwoStreamBatchSampler",
    "load_cifar",
    "load_dataset",
    "load_digits_dataset",
    "load_features",
    "load_idx_dataset",
    "load_image_folder",
    "load_labels",
    "load_npz_images",
    "load_split",
    "make_split",
    "read_idx",
    "save_split",
    "to_tensor",
]
