"""Reading and writing images, label masks and presets' files."""

from .atomic import atomic_write
from .masks import open_image_lazy, read_image, read_label_classes, write_labels

__all__ = ["atomic_write", "open_image_lazy", "read_image", "read_label_classes", "write_labels"]
