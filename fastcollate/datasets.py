"""Read ICDAR 2015 / SROIE annotations and build collate-ready samples.

The sample format is the one the collate function consumes: a dict with
``image``, ``polygons``, ``image_filename``, ``inverse_matrix`` and
``ignore_tags`` (see `make_sample`). Only annotations and image headers are
read. Pixels are never decoded, because target generation needs the image
shape only.
"""

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

ICDAR_LINE_FORMAT = "x1,y1,x2,y2,x3,y3,x4,y4,transcription"
IGNORE_TEXT = "###"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers of every JPEG coding process. 0xC4 (DHT), 0xC8 (JPG)
# and 0xCC (DAC) sit in the same range but are not frame headers.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM and the restart markers RST0-RST7.
_JPEG_STANDALONE_MARKERS = frozenset([0x01, *range(0xD0, 0xD8)])


class Word(NamedTuple):
    """One annotated text region.

    Attributes
    ----------
    polygon : ndarray, float64 (4, 2)
        Corner coordinates in pixels, x then y, in file order.
    text : str
        Transcription, ``"###"`` for a don't-care region.
    ignore : bool
        True for a don't-care region, which training masks out.
    """

    polygon: np.ndarray
    text: str
    ignore: bool


def read_icdar_annotation(path):
    """Read an ICDAR 2015 or SROIE ground-truth file.

    Each non-blank line is ``x1,y1,x2,y2,x3,y3,x4,y4,transcription``. The
    file is decoded as UTF-8 with an optional byte-order mark, and a trailing
    ``\\r`` is stripped from each line. Only the first 8 commas separate
    fields, so a transcription may contain commas.

    Parameters
    ----------
    path : str or os.PathLike
        Annotation file.

    Returns
    -------
    list of Word
        One record per region, in file order.

    Raises
    ------
    ValueError
        If the file is not valid UTF-8, or a line has fewer than 9 fields or
        a coordinate that is not a finite number. The message names the file,
        the 1-based line number and the line.
    """
    path = Path(path)
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: annotation file is not valid UTF-8 ({error})") from None

    words = []
    for line_number, line in enumerate(content.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        words.append(_parse_icdar_line(line, path, line_number))
    return words


def _parse_icdar_line(line, path, line_number):
    fields = line.split(",", 8)
    location = f"{path}, line {line_number}"
    if len(fields) < 9:
        raise ValueError(
            f"{location}: expected {ICDAR_LINE_FORMAT!r} (8 coordinates and a "
            f"transcription), got {len(fields)} comma-separated fields: {line!r}"
        )

    coordinates = []
    for field in fields[:8]:
        try:
            value = float(field)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ValueError(
                f"{location}: invalid coordinate {field!r}, expected a finite "
                f"number in {ICDAR_LINE_FORMAT!r}: {line!r}"
            )
        coordinates.append(value)

    text = fields[8]
    polygon = np.array(coordinates, dtype=np.float64).reshape(4, 2)
    return Word(polygon=polygon, text=text, ignore=text == IGNORE_TEXT)


def read_image_size(path):
    """Read the pixel size of a JPEG or PNG file from its header.

    Only the header is read. The size is the stored frame size: an EXIF
    orientation tag, which some decoders apply by rotating the image, is not
    taken into account.

    Parameters
    ----------
    path : str or os.PathLike
        JPEG or PNG file.

    Returns
    -------
    tuple of int
        ``(height, width)``.

    Raises
    ------
    ValueError
        If the file is neither JPEG nor PNG, is truncated, or has an invalid
        header. The message names the file.
    """
    path = Path(path)
    with path.open("rb") as file:
        signature = file.read(len(_PNG_SIGNATURE))
        if signature == _PNG_SIGNATURE:
            return _read_png_size(file, path)
        if signature.startswith(b"\xff\xd8"):
            file.seek(2)
            return _read_jpeg_size(file, path)
    raise ValueError(
        f"{path}: unsupported image format, expected a JPEG or PNG file "
        f"(first bytes {signature!r})"
    )


def _read_exact(file, count, path, kind):
    data = file.read(count)
    if len(data) < count:
        raise ValueError(
            f"{path}: truncated {kind} file, ended at byte {file.tell()} "
            f"before the image size was found"
        )
    return data


def _read_png_size(file, path):
    # The first chunk must be IHDR: length (4 bytes), type, width, height.
    header = _read_exact(file, 16, path, "PNG")
    if header[4:8] != b"IHDR":
        raise ValueError(f"{path}: invalid PNG, the first chunk is {header[4:8]!r}, expected b'IHDR'")
    width = int.from_bytes(header[8:12], "big")
    height = int.from_bytes(header[12:16], "big")
    if width == 0 or height == 0:
        raise ValueError(f"{path}: invalid PNG, IHDR gives size {width}x{height}")
    return height, width


def _read_jpeg_size(file, path):
    # Walk the marker segments after SOI until a start-of-frame header.
    while True:
        offset = file.tell()
        prefix = _read_exact(file, 1, path, "JPEG")[0]
        if prefix != 0xFF:
            raise ValueError(
                f"{path}: invalid JPEG, expected a marker (0xFF) at byte {offset}, found 0x{prefix:02X}"
            )
        marker = 0xFF
        while marker == 0xFF:  # Any number of 0xFF fill bytes may precede a marker.
            marker = _read_exact(file, 1, path, "JPEG")[0]

        if marker in _JPEG_STANDALONE_MARKERS:
            continue
        if marker in (0xD9, 0xDA):
            raise ValueError(
                f"{path}: invalid JPEG, reached marker 0x{marker:02X} "
                f"(end of image or start of scan) before a frame header"
            )

        length = int.from_bytes(_read_exact(file, 2, path, "JPEG"), "big")
        if length < 2:
            raise ValueError(f"{path}: invalid JPEG, segment 0x{marker:02X} at byte {offset} has length {length}")
        if marker not in _JPEG_SOF_MARKERS:
            file.seek(length - 2, 1)
            continue

        frame = _read_exact(file, 5, path, "JPEG")
        height = int.from_bytes(frame[1:3], "big")
        width = int.from_bytes(frame[3:5], "big")
        if height == 0 or width == 0:
            # Height 0 means that a DNL marker after the first scan gives it.
            raise ValueError(
                f"{path}: unsupported JPEG, frame header gives size {width}x{height} "
                f"(a height defined by a DNL marker is not supported)"
            )
        return height, width


def find_annotated_images(folder):
    """Pair each annotation file in a folder with its image.

    ``gt_img_N.txt`` belongs to ``img_N`` (ICDAR 2015) and ``X.txt`` to ``X``
    (SROIE), with a ``.jpg``, ``.jpeg`` or ``.png`` suffix in any case. Every
    ``*.txt`` file in the folder counts as an annotation file.

    Parameters
    ----------
    folder : str or os.PathLike
        Folder that contains the images and annotation files side by side.

    Returns
    -------
    list of tuple of pathlib.Path
        ``(image_path, annotation_path)`` pairs sorted by image file name in
        plain string order, so ``img_10.jpg`` comes before ``img_2.jpg``.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist or contains no ``*.txt`` file, or an
        annotation file has no image.
    ValueError
        If an annotation file matches more than one image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"annotation folder not found: {folder}")

    annotation_paths = sorted(folder.glob("*.txt"))
    if not annotation_paths:
        raise FileNotFoundError(f"no annotation files (*.txt) found in {folder}")

    images_by_stem = {}
    for candidate in folder.iterdir():
        if candidate.suffix.lower() in IMAGE_SUFFIXES and candidate.is_file():
            images_by_stem.setdefault(candidate.stem, []).append(candidate)

    pairs = []
    for annotation_path in annotation_paths:
        stem = annotation_path.stem
        image_stem = stem.removeprefix("gt_")
        images = images_by_stem.get(image_stem, [])
        if not images:
            expected = ", ".join(image_stem + suffix for suffix in IMAGE_SUFFIXES)
            raise FileNotFoundError(
                f"image not found for annotation file {annotation_path}: expected one of {expected} in {folder}"
            )
        if len(images) > 1:
            names = ", ".join(sorted(image.name for image in images))
            raise ValueError(f"annotation file {annotation_path} matches several images: {names}")
        pairs.append((images[0], annotation_path))

    pairs.sort(key=lambda pair: pair[0].name)
    return pairs


def letterbox(polygons, image_size, size=640):
    """Scale polygons as the image is resized and padded to a square.

    The image is scaled by ``size / max(height, width)`` (float64, the same
    factor on both axes), so its longest side becomes ``size``. Then it is
    padded at the bottom or right to ``size x size``, which keeps the image at
    the top-left. With top-left placement, a polygon's output coordinates are
    its scaled input coordinates with no offset, and ``inverse_matrix`` is a
    pure scale. A centred pad would add a half-pad offset to every point.
    Points outside the image are scaled like the others, not clamped.

    Parameters
    ----------
    polygons : sequence of array_like, each (N, 2)
        Polygons in original image pixels, x then y.
    image_size : tuple of int
        Original ``(height, width)``.
    size : int, optional
        Side of the square output image in pixels.

    Returns
    -------
    polygons_scaled : list of ndarray, float64 (N, 2)
        Polygons in output pixels.
    output_size : tuple of int
        ``(size, size)``.
    inverse_matrix : ndarray, float64 (3, 3)
        Homogeneous matrix that maps output pixel coordinates back to the
        original image: ``inverse_matrix @ [x, y, 1]``.

    Raises
    ------
    ValueError
        If a size is not positive or a polygon is not an (N, 2) array.
    """
    height, width = (int(value) for value in image_size)
    if height <= 0 or width <= 0:
        raise ValueError(f"invalid image_size {tuple(image_size)}, expected positive (height, width)")
    if size <= 0:
        raise ValueError(f"invalid size {size}, expected a positive number of pixels")

    longest_side = max(height, width)
    scale = size / longest_side

    polygons_scaled = []
    for index, polygon in enumerate(polygons):
        points = np.asarray(polygon, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"polygon {index} has shape {points.shape}, expected (N, 2)")
        polygons_scaled.append(points * scale)

    # longest_side / size is the correctly rounded inverse, closer than 1 / scale.
    inverse_scale = longest_side / size
    inverse_matrix = np.array(
        [[inverse_scale, 0.0, 0.0], [0.0, inverse_scale, 0.0], [0.0, 0.0, 1.0]],
        dtype=np.float64,
    )
    return polygons_scaled, (size, size), inverse_matrix


def make_sample(polygons, size, image_filename, inverse_matrix, ignore_tags):
    """Build one sample dict in the format the collate function consumes.

    Parameters
    ----------
    polygons : sequence of array_like, each (N, 2)
        Polygons in output pixels.
    size : int
        Side of the square image.
    image_filename : str
        File name reported with the sample.
    inverse_matrix : array_like, float64 (3, 3)
        Map from output pixels back to the original image.
    ignore_tags : sequence of bool
        One flag per polygon, True for a don't-care region.

    Returns
    -------
    dict
        ``image``: placeholder ``torch.zeros((3, size, size))``, float32,
        because only its shape matters for target generation.
        ``polygons``: list of float32 (1, N, 2) arrays, the baseline's layout.
        ``image_filename``: str. ``inverse_matrix``: float64 (3, 3).
        ``ignore_tags``: list of bool.

    Raises
    ------
    ValueError
        If ``ignore_tags`` and ``polygons`` differ in length.
    """
    if len(ignore_tags) != len(polygons):
        raise ValueError(f"got {len(ignore_tags)} ignore_tags for {len(polygons)} polygons, expected one per polygon")

    return {
        "image": torch.zeros((3, size, size), dtype=torch.float32),
        "polygons": [np.asarray(polygon, dtype=np.float32).reshape(1, -1, 2) for polygon in polygons],
        "image_filename": image_filename,
        "inverse_matrix": np.asarray(inverse_matrix, dtype=np.float64),
        "ignore_tags": [bool(tag) for tag in ignore_tags],
    }


def load_samples(folder, size=640):
    """Load every annotated image of a folder as a letterboxed sample.

    Images are paired with `find_annotated_images`, annotations are read with
    `read_icdar_annotation`, and polygons are scaled with `letterbox`. Pixels
    are not decoded: ``image`` is a zero placeholder of the output shape.

    Parameters
    ----------
    folder : str or os.PathLike
        Folder with ICDAR 2015 or SROIE images and annotation files.
    size : int, optional
        Side of the square output image in pixels.

    Returns
    -------
    list of dict
        Samples as built by `make_sample`, in `find_annotated_images` order.
        Don't-care (``###``) regions are kept, with ``ignore_tags`` True.
    """
    samples = []
    for image_path, annotation_path in find_annotated_images(folder):
        words = read_icdar_annotation(annotation_path)
        image_size = read_image_size(image_path)
        polygons, _, inverse_matrix = letterbox([word.polygon for word in words], image_size, size)
        ignore_tags = [word.ignore for word in words]
        samples.append(make_sample(polygons, size, image_path.name, inverse_matrix, ignore_tags))
    return samples
