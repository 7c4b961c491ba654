"""A run's labels for the tools people label and train with: Label Studio tasks, a FiftyOne
image classification dataset, ``<class>/`` folders; and Label Studio's annotations back into
the labels (:func:`import_label_studio`)."""

from .fiftyone import export_fiftyone
from .folders import export_folders
from .label_studio import export_label_studio, import_label_studio
from .rows import ExportRow, export_rows

FORMATS = {
    "label-studio": export_label_studio,
    "fiftyone": export_fiftyone,
    "folders": export_folders,
}

__all__ = [
    "FORMATS",
    "ExportRow",
    "export_fiftyone",
    "export_folders",
    "export_label_studio",
    "export_rows",
    "import_label_studio",
]
