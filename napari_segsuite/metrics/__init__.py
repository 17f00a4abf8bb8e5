"""Metrics: semantic (confusion matrix), boundary (BF, BSDS benchmark), region and instance scores.

``score(pred, gt, kind=...)`` is the single entry point; the modules hold the building blocks.
"""

from .boundary import bf_score, bsds_boundary_image, bsds_boundary_maps, bsds_collect, correspond_pixels
from .coco import CocoImage, coco_ap
from .instance import THRESHOLDS, adapted_rand, instance_metrics, iou_matrix, match_objects, panoptic_quality, split_voi
from .region import bsds_region_collect, bsds_region_image, rand_index, variation_of_information
from .score import KINDS, Score, score
from .semantic import confusion_matrix, semantic_metrics

__all__ = [
    "KINDS", "THRESHOLDS", "CocoImage", "Score", "adapted_rand", "coco_ap", "bf_score", "bsds_boundary_image", "bsds_boundary_maps", "bsds_collect",
    "bsds_region_collect", "bsds_region_image", "confusion_matrix", "correspond_pixels", "instance_metrics",
    "iou_matrix", "match_objects", "panoptic_quality", "rand_index", "score", "semantic_metrics", "split_voi",
    "variation_of_information",
]
