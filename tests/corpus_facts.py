"""Facts about the real annotation files that the reader tests check.

The sample bundled in ``fastcollate/data`` is always present. The real
corpus it was copied from is read when it sits next to the repository.
"""

from pathlib import Path

import numpy as np
import pytest

from fastcollate.data import SAMPLE_DIR

CORPUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
requires_corpus = pytest.mark.skipif(
    not CORPUS_DIR.is_dir(),
    reason=f"real annotation corpus not found at {CORPUS_DIR}; only the bundled sample is tested",
)

SAMPLE_ICDAR = SAMPLE_DIR / "icdar2015"
SAMPLE_SROIE = SAMPLE_DIR / "sroie"
CORPUS_ICDAR_TRAIN = CORPUS_DIR / "icdar2015" / "train"
CORPUS_ICDAR_TEST = CORPUS_DIR / "icdar2015" / "test"
CORPUS_SROIE = CORPUS_DIR / "sroie"


# Expected values recorded when the files were collected from their source
# repositories: (regions, "###" regions) per file, image (height, width) and
# the first 12 hex digits of each file's sha256.
ICDAR_TRAIN_COUNTS = {
    "gt_img_1.txt": (7, 3),
    "gt_img_2.txt": (2, 0),
    "gt_img_3.txt": (13, 11),
    "gt_img_4.txt": (3, 3),
    "gt_img_5.txt": (2, 2),
    "gt_img_6.txt": (20, 18),
    "gt_img_7.txt": (15, 13),
    "gt_img_8.txt": (8, 4),
    "gt_img_9.txt": (4, 2),
    "gt_img_10.txt": (8, 5),
}
ICDAR_TEST_COUNTS = {
    "gt_img_1.txt": (8, 8),
    "gt_img_21.txt": (90, 82),
    "gt_img_22.txt": (1, 0),
    "gt_img_40.txt": (7, 1),
    "gt_img_68.txt": (37, 28),
    "gt_img_108.txt": (16, 3),
}
SROIE_COUNTS = {
    "X00016469612.txt": 44,
    "X00016469623.txt": 61,
    "X51005306399.txt": 46,
    "X51005433492.txt": 39,
    "X51005441398.txt": 53,
    "X51005442397.txt": 28,
    "X51005444037.txt": 66,
    "X51005447848.txt": 75,
    "X51005685355.txt": 60,
    "X51006466778.txt": 33,
}
SROIE_CRLF_FILES = {"X00016469623.txt", "X51005685355.txt"}
IMAGE_SIZES = {
    **{f"img_{n}.jpg": (720, 1280) for n in range(1, 11)},
    "X00016469612.jpg": (1013, 463),
    "X00016469623.jpg": (1026, 463),
    "X51005306399.jpg": (915, 447),
    "X51005433492.jpg": (1527, 1080),
    "X51005441398.jpg": (1711, 591),
    "X51005442397.jpg": (1527, 1080),
    "X51005444037.jpg": (2748, 792),
    "X51005447848.jpg": (1987, 932),
    "X51005685355.jpg": (1403, 615),
    "X51006466778.jpg": (935, 615),
}
SAMPLE_SHA256_PREFIXES = {
    "icdar2015/gt_img_1.txt": "5fc4abdbcbf5",
    "icdar2015/gt_img_2.txt": "6448e57b8ef4",
    "icdar2015/gt_img_3.txt": "04c1fd69b4c6",
    "icdar2015/gt_img_4.txt": "df14783f2c2c",
    "icdar2015/gt_img_5.txt": "471e33da1d4a",
    "icdar2015/gt_img_6.txt": "9ed7c2635f35",
    "icdar2015/gt_img_7.txt": "ed7ae1a7e85c",
    "icdar2015/gt_img_8.txt": "f8adee9b6572",
    "icdar2015/gt_img_9.txt": "63af5cf7b6df",
    "icdar2015/gt_img_10.txt": "92c0de71aaed",
    "icdar2015/img_1.jpg": "7ebd8740f9f0",
    "icdar2015/img_2.jpg": "1a09c72186e6",
    "icdar2015/img_3.jpg": "a2e99b7042a8",
    "icdar2015/img_4.jpg": "2d12f916d672",
    "icdar2015/img_5.jpg": "8de8b165ac0f",
    "icdar2015/img_6.jpg": "bde72eca4678",
    "icdar2015/img_7.jpg": "be5aa25fa2cc",
    "icdar2015/img_8.jpg": "a0245b2ffda7",
    "icdar2015/img_9.jpg": "62a819051b21",
    "icdar2015/img_10.jpg": "8dd3bad7cd81",
    "sroie/X00016469612.jpg": "8b85d2c325c6",
    "sroie/X00016469623.jpg": "6214852fce61",
    "sroie/X51005306399.jpg": "f7a0f48fad6c",
    "sroie/X51005433492.jpg": "42b51a97846a",
    "sroie/X51005441398.jpg": "3fd90b4bccd4",
    "sroie/X51005442397.jpg": "7fdb0a4d941f",
    "sroie/X51005444037.jpg": "e46ba0b7256a",
    "sroie/X51005447848.jpg": "641053b399f7",
    "sroie/X51005685355.jpg": "8eb12e0b6fda",
    "sroie/X51006466778.jpg": "b6f657f35fb4",
    "sroie/X00016469612.txt": "6d467981bddd",
    "sroie/X00016469623.txt": "736b6b881d30",
    "sroie/X51005306399.txt": "65d2605eec44",
    "sroie/X51005433492.txt": "1f2a51635d17",
    "sroie/X51005441398.txt": "53ac3c598a2c",
    "sroie/X51005442397.txt": "dd91b4a17b4a",
    "sroie/X51005444037.txt": "42a9b63f0517",
    "sroie/X51005447848.txt": "445b4320c41b",
    "sroie/X51005685355.txt": "49fccb5cbe83",
    "sroie/X51006466778.txt": "1b3e27cec2b2",
}

ICDAR_TRAIN_DIRS = [
    pytest.param(SAMPLE_ICDAR, id="sample"),
    pytest.param(CORPUS_ICDAR_TRAIN, id="corpus", marks=requires_corpus),
]
SROIE_DIRS = [
    pytest.param(SAMPLE_SROIE, id="sample"),
    pytest.param(CORPUS_SROIE, id="corpus", marks=requires_corpus),
]
ALL_ANNOTATION_DIRS = [
    *ICDAR_TRAIN_DIRS,
    pytest.param(CORPUS_ICDAR_TEST, id="corpus-icdar-test", marks=requires_corpus),
    *SROIE_DIRS,
]

ICDAR_LINE = "1,2,3,2,3,4,1,4,text"


def shoelace_sum(polygon):
    """Return twice the signed area, positive for clockwise on screen (y down)."""
    x, y = polygon[:, 0], polygon[:, 1]
    return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def write_annotation(folder, name, content):
    path = folder / name
    path.write_bytes(content.encode("utf-8"))
    return path
