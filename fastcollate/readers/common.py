"""Records and parsing helpers shared by the annotation readers."""

import math
from pathlib import Path, PurePath
from typing import NamedTuple, Optional

import numpy as np


class Word(NamedTuple):
    """One annotated text region.

    Attributes
    ----------
    polygon : ndarray (N, 2)
        Vertex coordinates in pixels, x then y, in file order. int64 when
        every coordinate in the file is written as an integer, float64
        otherwise.
    text : str or None
        Transcription, ``"###"`` for an ICDAR don't-care region, or None
        for formats without transcriptions (CTW1500).
    ignore : bool
        True for a don't-care region, which training masks out.
    """

    polygon: np.ndarray
    text: Optional[str]
    ignore: bool


class AnnotatedImage(NamedTuple):
    """The annotation of one image, as a reader found it.

    Attributes
    ----------
    name : str
        Image file name relative to the dataset folder, reported as the
        sample's ``image_filename``.
    image_path : pathlib.Path or None
        Image file, or None when the folder has no image for the annotation.
    image_size : tuple of int or None
        ``(height, width)`` stated by the annotation itself (WildReceipt,
        receipt JSON with ``img_h``/``img_w``), else None.
    words : list of Word
        Regions in file order.
    annotation_path : pathlib.Path
        File the regions were read from.
    """

    name: str
    image_path: Optional[Path]
    image_size: Optional[tuple]
    words: list
    annotation_path: Path


def read_text(path):
    """Read an annotation file as UTF-8, dropping a leading byte-order mark.

    Raises
    ------
    ValueError
        If the file is not valid UTF-8. The message names the file.
    """
    path = Path(path)
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: annotation file is not valid UTF-8 ({error})") from None


def check_inside(file_name, image_dir, location, field):
    """Raise ``ValueError`` if the image path ``file_name`` from an annotation leaves ``image_dir``.

    An absolute path, or one whose ``..`` parts climb out of the folder, would
    make the reader open files outside the dataset. Symbolic links inside
    the folder are followed, as for any other image.
    """
    relative = PurePath(file_name)
    depth = 0
    escapes = relative.is_absolute() or bool(relative.drive)
    for part in relative.parts:
        if part == "..":
            depth -= 1
        elif part != ".":
            depth += 1
        escapes = escapes or depth < 0
    if escapes:
        raise ValueError(
            f"{location}: {field} is {file_name!r}, which leaves the image folder {image_dir}; "
            "expected a path relative to that folder, without a leading / or .. parts that climb out of it"
        )


def numbered_lines(content):
    """Yield ``(line_number, line)`` for each non-blank line, 1-based, with ``\\r`` stripped."""
    for line_number, line in enumerate(content.split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            yield line_number, line


def parse_number(field):
    """Return ``field`` as an int if it is an integer literal, else as a float.

    Returns None for text that is not a finite number, so that the caller can
    name the file and line in its error.
    """
    try:
        return int(field)
    except ValueError:
        pass
    try:
        value = float(field)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def is_finite_number(value):
    """Return True for a finite int or float from a JSON document, False for anything else (bool included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def polygon_arrays(coordinate_lists):
    """Turn flat coordinate lists into (N, 2) arrays with one dtype per file.

    The arrays are int64 when every value is a Python int, float64 otherwise.
    """
    # Integers beyond int64 fall back to float64, and the collate skips them
    # as out of range.
    all_integers = all(
        type(value) is int and abs(value) < 2**63 for values in coordinate_lists for value in values
    )
    dtype = np.int64 if all_integers else np.float64
    return [np.array(values, dtype=dtype).reshape(-1, 2) for values in coordinate_lists]
