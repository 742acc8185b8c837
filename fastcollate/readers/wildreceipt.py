"""WildReceipt annotations: one JSON object per line, one receipt per object."""

import json
from pathlib import Path

from fastcollate.readers.common import (
    AnnotatedImage,
    Word,
    check_inside,
    is_finite_number,
    numbered_lines,
    polygon_arrays,
    read_text,
)

WILDRECEIPT_LINE_FORMAT = (
    '{"file_name": ..., "height": H, "width": W, "annotations": [{"box": [x1, y1, ..., x4, y4], '
    '"text": ..., "label": ...}, ...]}'
)
# Class 0 of class_list.txt is "Ignore". Its boxes have empty text.
IGNORE_LABEL = 0


def read_wildreceipt_annotation(path, image_dir=None):
    """Read a WildReceipt JSON Lines file (``train.txt``, ``test.txt``).

    Each non-blank line is one receipt: ``file_name`` (the image, relative to
    ``image_dir``), ``height`` and ``width`` in pixels, and ``annotations``,
    a list of boxes with ``box`` (flat x, y coordinates, bottom-left first,
    counter-clockwise on screen), ``text`` and ``label``. A box with label 0
    (``Ignore``) or empty text is a don't-care region.

    Parameters
    ----------
    path : str or os.PathLike
        JSON Lines file.
    image_dir : str or os.PathLike, optional
        Folder that ``file_name`` is relative to. By default it is the folder of
        ``path``.

    Returns
    -------
    list of AnnotatedImage
        One record per receipt, in file order, with ``image_size`` taken from
        ``height`` and ``width`` and ``image_path`` None where the image file
        is missing. Polygons are (N, 2): float64 when the file writes any
        coordinate as a decimal (``550.0``), int64 when all are integers.

    Raises
    ------
    ValueError
        If the file is not valid UTF-8, a line is not valid JSON, or a
        required key is missing or has an invalid value. The message names
        the file, the 1-based line number, the key and the expected layout.
    """
    path = Path(path)
    image_dir = Path(image_dir) if image_dir is not None else path.parent
    records = []
    for line_number, line in numbered_lines(read_text(path)):
        records.append(_parse_line(line, path, line_number, image_dir))
    return _to_images(records, path)


def _parse_line(line, path, line_number, image_dir):
    location = f"{path}, line {line_number}"
    try:
        receipt = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{location}, column {error.colno}: invalid JSON ({error.msg}), expected {WILDRECEIPT_LINE_FORMAT}"
        ) from None
    if not isinstance(receipt, dict):
        raise ValueError(f"{location}: expected a JSON object {WILDRECEIPT_LINE_FORMAT}, got {type(receipt).__name__}")

    for key in ("file_name", "height", "width", "annotations"):
        if key not in receipt:
            raise ValueError(f"{location}: key {key!r} is missing, expected {WILDRECEIPT_LINE_FORMAT}")
    file_name = receipt["file_name"]
    if not isinstance(file_name, str) or not file_name:
        raise ValueError(f"{location}: key 'file_name' is {file_name!r}, expected a relative image path")
    check_inside(file_name, image_dir, location, "key 'file_name'")
    size = []
    for key in ("height", "width"):
        value = receipt[key]
        if type(value) is not int or value <= 0:
            raise ValueError(f"{location}: key {key!r} is {value!r}, expected a positive integer number of pixels")
        size.append(value)
    annotations = receipt["annotations"]
    if not isinstance(annotations, list):
        raise ValueError(f"{location}: key 'annotations' is {type(annotations).__name__}, expected a list of boxes")

    boxes = []
    for index, annotation in enumerate(annotations):
        boxes.append(_parse_box(annotation, f"{location}, annotations[{index}]"))

    image_path = image_dir / file_name
    return file_name, (image_path if image_path.is_file() else None), tuple(size), boxes


def _parse_box(annotation, location):
    if not isinstance(annotation, dict) or "box" not in annotation:
        raise ValueError(f"{location}: expected an object with key 'box', got {annotation!r}")
    box = annotation["box"]
    if not isinstance(box, list) or len(box) < 6 or len(box) % 2:
        raise ValueError(f"{location}: key 'box' is {box!r}, expected an even number (at least 6) of coordinates")
    coordinates = []
    for value in box:
        if not is_finite_number(value):
            raise ValueError(f"{location}: invalid coordinate {value!r} in key 'box', expected a finite number")
        coordinates.append(value)

    text = annotation.get("text", "")
    if not isinstance(text, str):
        raise ValueError(f"{location}: key 'text' is {text!r}, expected a string")
    ignore = annotation.get("label") == IGNORE_LABEL or text == ""
    return coordinates, text, ignore


def _to_images(records, path):
    all_coordinates = [coordinates for *_, boxes in records for coordinates, _, _ in boxes]
    polygons = iter(polygon_arrays(all_coordinates))
    images = []
    for file_name, image_path, size, boxes in records:
        words = [Word(polygon=next(polygons), text=text, ignore=ignore) for _, text, ignore in boxes]
        images.append(AnnotatedImage(file_name, image_path, size, words, path))
    return images
