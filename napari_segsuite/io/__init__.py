"""Reading and writing images, label masks and presets' files."""

from .atomic import atomic_write
from .limits import check_pixels, read_json
from .masks import open_image_lazy, read_image, read_image_with_notes, read_label_classes, write_labels

__all__ = ["atomic_write", "check_pixels", "open_image_lazy", "read_image", "read_image_with_notes", "read_json",
           "read_label_classes", "write_labels"]
