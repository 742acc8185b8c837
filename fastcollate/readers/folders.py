"""Find the annotation files of a dataset folder, detect their format and pair them with images."""

from pathlib import Path

from fastcollate.readers.common import AnnotatedImage, numbered_lines, read_text
from fastcollate.readers.ctw1500 import is_ctw1500_line, read_ctw1500_annotation
from fastcollate.readers.icdar import read_icdar_annotation
from fastcollate.readers.receipt_json import is_receipt_json, read_receipt_json
from fastcollate.readers.wildreceipt import is_wildreceipt_line, read_wildreceipt_annotation

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

ICDAR2015 = "icdar2015"
SROIE = "sroie"
CTW1500 = "ctw1500"
WILDRECEIPT = "wildreceipt"
RECEIPT_JSON = "receipt_json"
# SROIE task-1 files have the ICDAR 2015 line layout and share its reader.
FORMATS = (ICDAR2015, SROIE, CTW1500, WILDRECEIPT, RECEIPT_JSON)
_PER_IMAGE_FORMATS = {ICDAR2015: read_icdar_annotation, SROIE: read_icdar_annotation, CTW1500: read_ctw1500_annotation}


def read_dataset(path, format=None, image_dir=None):
    """Read every annotation of a dataset folder or file.

    Parameters
    ----------
    path : str or os.PathLike
        A folder, or one annotation file. In a folder, the annotation files
        depend on the format. ICDAR 2015, SROIE and CTW1500 read every
        ``*.txt``, one file per image. WildReceipt reads the ``*.txt`` files
        in JSON Lines, which leaves out ``class_list.txt``. Receipt JSON reads
        the ``*.json`` files with a top-level ``images`` key.
    format : str, optional
        One of `FORMATS`. By default it is detected with `detect_format`.
    image_dir : str or os.PathLike, optional
        Folder with the images, if they are not beside the annotations.
        ``gt_img_N.txt`` and ``img_N.txt`` belong to ``img_N`` with a
        ``.jpg``, ``.jpeg`` or ``.png`` suffix. JSON formats name their images.

    Returns
    -------
    list of AnnotatedImage
        Sorted by ``name`` for one-file-per-image formats, in file order for
        the JSON formats. ``image_path`` is None where the image is missing.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or holds no annotation file.
    ValueError
        If ``format`` is unknown, an annotation file is malformed (the
        message names the file and line) or an annotation matches several
        images.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset folder or annotation file not found: {path}")
    if format is None:
        format = detect_format(path)
    if format not in FORMATS:
        raise ValueError(f"unknown annotation format {format!r}, expected one of {', '.join(FORMATS)}")

    annotation_paths = [path] if path.is_file() else _annotation_files(path, format)
    if not annotation_paths:
        raise FileNotFoundError(f"no {format} annotation files found in {path}")

    if format == WILDRECEIPT:
        return [image for file in annotation_paths for image in read_wildreceipt_annotation(file, image_dir)]
    if format == RECEIPT_JSON:
        return [image for file in annotation_paths for image in read_receipt_json(file, image_dir)]

    read = _PER_IMAGE_FORMATS[format]
    folder = Path(image_dir) if image_dir is not None else annotation_paths[0].parent
    images = []
    for image_path, annotation_path in pair_images(annotation_paths, folder):
        name = image_path.name if image_path is not None else annotation_path.stem.removeprefix("gt_")
        images.append(AnnotatedImage(name, image_path, None, read(annotation_path), annotation_path))
    images.sort(key=lambda image: image.name)
    return images


def detect_format(path):
    """Detect the annotation format of a dataset folder or file.

    A ``*.json`` file with a top-level ``images`` key is receipt JSON. Else
    the first non-blank lines of the ``*.txt`` files decide. A JSON object
    with ``file_name`` and ``annotations`` in any of them is WildReceipt.
    Otherwise the first of them decides: 28 numbers and ``CARE`` or ``###``
    is CTW1500, and anything else is ICDAR 2015 (which covers SROIE), whose
    reader reports a malformed line.

    Raises
    ------
    FileNotFoundError
        If no ``*.txt`` or receipt JSON file is found.
    """
    path = Path(path)
    if path.is_dir():
        json_files = sorted(path.glob("*.json"))
    else:
        json_files = [path] if path.suffix.lower() == ".json" else []
    if any(is_receipt_json(file) for file in json_files):
        return RECEIPT_JSON

    text_files = [path] if path.is_file() else sorted(path.glob("*.txt"))
    if not text_files:
        raise FileNotFoundError(
            f"no annotation files found in {path}: expected *.txt files (ICDAR 2015, SROIE, CTW1500, "
            "WildReceipt) or a *.json file with an 'images' key (receipt JSON)"
        )

    first_lines = [line for line in (_first_line(file) for file in text_files) if line is not None]
    if any(is_wildreceipt_line(line) for line in first_lines):
        return WILDRECEIPT
    # Empty files are ICDAR 2015 annotations of images without text.
    if first_lines and is_ctw1500_line(first_lines[0]):
        return CTW1500
    return ICDAR2015


def pair_images(annotation_paths, image_dir):
    """Return ``(image_path or None, annotation_path)`` for each annotation file.

    ``gt_img_N.txt`` belongs to ``img_N`` (ICDAR 2015) and ``X.txt`` to
    ``X`` (SROIE, CTW1500), with a ``.jpg``, ``.jpeg`` or ``.png`` suffix in
    any case, in ``image_dir``.

    Raises
    ------
    ValueError
        If an annotation file matches more than one image.
    """
    images_by_stem = {}
    if Path(image_dir).is_dir():
        for candidate in Path(image_dir).iterdir():
            if candidate.suffix.lower() in IMAGE_SUFFIXES and candidate.is_file():
                images_by_stem.setdefault(candidate.stem, []).append(candidate)

    pairs = []
    for annotation_path in annotation_paths:
        images = images_by_stem.get(annotation_path.stem.removeprefix("gt_"), [])
        if len(images) > 1:
            names = ", ".join(sorted(image.name for image in images))
            raise ValueError(f"annotation file {annotation_path} matches several images: {names}")
        pairs.append((images[0] if images else None, annotation_path))
    return pairs


def _annotation_files(folder, format):
    if format == RECEIPT_JSON:
        return [file for file in sorted(folder.glob("*.json")) if is_receipt_json(file)]
    if format == WILDRECEIPT:
        return [file for file in sorted(folder.glob("*.txt")) if is_wildreceipt_line(_first_line(file) or "")]
    return sorted(folder.glob("*.txt"))


def _first_line(path):
    """Return the first non-blank line of a text file, or None if it has none or is not UTF-8."""
    try:
        content = read_text(path)
    except ValueError:
        return None
    for _, line in numbered_lines(content):
        return line
    return None
