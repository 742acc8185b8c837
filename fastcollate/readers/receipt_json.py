"""Receipt JSON: one file with images, then words, then points.

This is the layout of the receipt text-detection competition whose DBNet
baseline the collate reproduces::

    {"images": {
        "receipt_0001.jpg": {
            "img_w": 1280, "img_h": 1706,
            "words": {
                "0001": {"points": [[x, y], [x, y], [x, y], [x, y]],
                         "transcription": "TOTAL", "illegibility": false},
                ...}},
        ...}}

``images`` maps an image file name to its record, and ``words`` maps a word
id to its record. Both may also be lists, with the image file name under
``file_name``. Only ``points`` is required. ``img_w``/``img_h``,
``transcription`` and ``illegibility`` are optional. A word with
``illegibility`` true is a don't-care region. An image without ``words``
(an unlabelled test image) has no regions.
"""

import json
from pathlib import Path

from fastcollate.readers.common import AnnotatedImage, Word, check_inside, is_finite_number, polygon_arrays, read_text

RECEIPT_JSON_LAYOUT = '{"images": {"<file name>": {"words": {"<id>": {"points": [[x, y], ...]}}}}}'


def read_receipt_json(path, image_dir=None):
    """Read a receipt JSON annotation file.

    Parameters
    ----------
    path : str or os.PathLike
        JSON file in the layout described in this module.
    image_dir : str or os.PathLike, optional
        Folder that contains the images. By default it is the folder of ``path``.

    Returns
    -------
    list of AnnotatedImage
        One record per image, in file order. Polygons are (N, 2) in file
        point order: int64 if every point in the file is written as an
        integer, float64 otherwise. ``image_size`` is ``(img_h, img_w)``
        when both are given, and ``image_path`` is None when the image file
        is missing.

    Raises
    ------
    ValueError
        If the file is not valid UTF-8 or JSON (the message names the file,
        line and column), or a key is missing or has an invalid value (the
        message names the file, the image and the word).
    """
    path = Path(path)
    image_dir = Path(image_dir) if image_dir is not None else path.parent
    try:
        document = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path}, line {error.lineno}, column {error.colno}: invalid JSON ({error.msg}), "
            f"expected {RECEIPT_JSON_LAYOUT}"
        ) from None
    if not isinstance(document, dict) or "images" not in document:
        raise ValueError(f"{path}: key 'images' is missing at the top level, expected {RECEIPT_JSON_LAYOUT}")

    records = []
    for file_name, image in _entries(document["images"], path, "images"):
        records.append(_parse_image(file_name, image, path, image_dir))

    all_points = [points for *_, words in records for points, _, _ in words]
    polygons = iter(polygon_arrays(all_points))
    images = []
    for file_name, image_path, size, words in records:
        parsed = [Word(polygon=next(polygons), text=text, ignore=ignore) for _, text, ignore in words]
        images.append(AnnotatedImage(file_name, image_path, size, parsed, path))
    return images


def _entries(container, path, where):
    """Yield ``(name, record)`` from a dict keyed by name or a list of records with ``file_name``."""
    if isinstance(container, dict):
        yield from container.items()
        return
    if not isinstance(container, list):
        raise ValueError(f"{path}: key {where!r} is {type(container).__name__}, expected an object or a list")
    for index, record in enumerate(container):
        if where == "images":
            name = record.get("file_name") if isinstance(record, dict) else None
            if not isinstance(name, str) or not name:
                raise ValueError(f"{path}: images[{index}] has no 'file_name' string, expected the image file name")
        else:
            name = str(index)
        yield name, record


def _parse_image(file_name, image, path, image_dir):
    location = f"{path}: image {file_name!r}"
    check_inside(file_name, image_dir, location, "the image file name")
    if not isinstance(image, dict):
        raise ValueError(f"{location} is {type(image).__name__}, expected an object with key 'words'")

    size = None
    if "img_h" in image and "img_w" in image:
        size = (image["img_h"], image["img_w"])
        if any(type(value) is not int or value <= 0 for value in size):
            raise ValueError(f"{location}: img_h, img_w is {size}, expected positive integers (pixels)")

    words = []
    for word_id, word in _entries(image.get("words", {}), path, f"images/{file_name}/words"):
        words.append(_parse_word(word, f"{location}, word {word_id!r}"))

    image_path = image_dir / file_name
    return file_name, (image_path if image_path.is_file() else None), size, words


def _parse_word(word, location):
    if not isinstance(word, dict) or "points" not in word:
        raise ValueError(f"{location}: key 'points' is missing, expected {{'points': [[x, y], ...]}}")
    points = word["points"]
    valid = isinstance(points, list) and all(
        isinstance(point, list) and len(point) == 2 and all(is_finite_number(value) for value in point)
        for point in points
    )
    if not valid:
        raise ValueError(f"{location}: key 'points' is {points!r}, expected a list of [x, y] pairs of finite numbers")

    text = word.get("transcription")
    if text is not None and not isinstance(text, str):
        raise ValueError(f"{location}: key 'transcription' is {text!r}, expected a string")
    ignore = word.get("illegibility", False)
    if not isinstance(ignore, bool):
        raise ValueError(f"{location}: key 'illegibility' is {ignore!r}, expected true or false")
    return [value for point in points for value in point], text, ignore
