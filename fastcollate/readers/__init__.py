"""Annotation readers for real text-detection datasets, one module per format.

Every reader returns `Word` records (polygon, transcription, ignore tag) with
polygons as written in the file: int64 arrays where every coordinate is an
integer, float64 otherwise. `read_dataset` finds the annotation files of a
folder, detects their format and pairs them with images.

- ``icdar2015`` and ``sroie``: ``gt_img_N.txt`` or ``X.txt`` per image,
  `read_icdar_annotation`.
- ``ctw1500``: ``<id>.txt`` per image, `read_ctw1500_annotation`.
- ``wildreceipt``: ``train.txt`` in JSON Lines, `read_wildreceipt_annotation`.
- ``receipt_json``: ``*.json`` with images, then words, then points,
  `read_receipt_json`.
"""

from fastcollate.readers.common import AnnotatedImage, Word
from fastcollate.readers.ctw1500 import read_ctw1500_annotation
from fastcollate.readers.folders import FORMATS, IMAGE_SUFFIXES, detect_format, pair_images, read_dataset
from fastcollate.readers.icdar import ICDAR_LINE_FORMAT, IGNORE_TEXT, read_icdar_annotation
from fastcollate.readers.image_size import read_image_size
from fastcollate.readers.receipt_json import read_receipt_json
from fastcollate.readers.wildreceipt import read_wildreceipt_annotation

__all__ = [
    "FORMATS",
    "ICDAR_LINE_FORMAT",
    "IGNORE_TEXT",
    "IMAGE_SUFFIXES",
    "AnnotatedImage",
    "Word",
    "detect_format",
    "pair_images",
    "read_ctw1500_annotation",
    "read_dataset",
    "read_icdar_annotation",
    "read_image_size",
    "read_receipt_json",
    "read_wildreceipt_annotation",
]
