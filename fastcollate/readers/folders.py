"""Find the annotation files of a dataset folder, detect their format and pair them with images."""

from pathlib import Path

from fastcollate.readers.common import AnnotatedImage, read_text
from fastcollate.readers.ctw1500 import read_ctw1500_annotation
from fastcollate.readers.detect import (
    CTW1500,
    ICDAR2015,
    RECEIPT_JSON,
    SROIE,
    WILDRECEIPT,
    detect_format,
    json_status,
    looks_like_json_lines,
    text_annotation_files,
)
from fastcollate.readers.icdar import read_icdar_annotation
from fastcollate.readers.receipt_json import read_receipt_json
from fastcollate.readers.wildreceipt import read_wildreceipt_annotation

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

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
        the ``*.json`` files with a top-level ``images`` key, and those that
        are not valid JSON, to report them.
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
        If ``path`` or ``image_dir`` does not exist, or ``path`` contains no
        annotation file.
    ValueError
        If ``format`` is unknown, an annotation file is malformed (the
        message names the file and line) or an annotation matches several
        images.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset folder or annotation file not found: {path}")
    if image_dir is not None and not Path(image_dir).is_dir():
        raise FileNotFoundError(f"image folder not found: {image_dir} (image_dir, --image-dir on the command line)")
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
        # A file that is not valid JSON is read, so that the reader reports its line and column.
        return [file for file in sorted(folder.glob("*.json")) if file.is_file() and json_status(file) != "other"]
    if format == WILDRECEIPT:
        return [file for file in text_annotation_files(folder) if _is_json_lines(file)]
    return text_annotation_files(folder)


def _is_json_lines(path):
    try:
        return looks_like_json_lines(read_text(path))
    except ValueError:
        return False
