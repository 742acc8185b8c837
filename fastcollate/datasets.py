"""Build collate-ready samples from annotated dataset folders.

The sample format is the one the collate function consumes: a dict with
``image``, ``polygons``, ``image_filename``, ``inverse_matrix`` and
``ignore_tags`` (see `make_sample`). `load_samples` reads annotations and
image headers only. Pixels are never decoded, because target generation needs
the image shape only; `fastcollate.dataset.TextDetectionDataset` decodes them.

The readers live in `fastcollate.readers`. The names imported from there are
re-exported here for existing callers.
"""

from pathlib import Path

import numpy as np
import torch

from fastcollate.readers import (  # noqa: F401 (re-exported)
    ICDAR_LINE_FORMAT,
    IGNORE_TEXT,
    IMAGE_SUFFIXES,
    Word,
    pair_images,
    read_dataset,
    read_icdar_annotation,
    read_image_size,
)


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

    pairs = pair_images(annotation_paths, folder)
    for image_path, annotation_path in pairs:
        if image_path is None:
            image_stem = annotation_path.stem.removeprefix("gt_")
            expected = ", ".join(image_stem + suffix for suffix in IMAGE_SUFFIXES)
            raise FileNotFoundError(
                f"image not found for annotation file {annotation_path}: expected one of {expected} in {folder}"
            )

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


def make_sample(polygons, size, image_filename, inverse_matrix, ignore_tags, image=None):
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
    image : torch.Tensor, optional
        The (C, size, size) image. By default a zero placeholder.

    Returns
    -------
    dict
        ``image``: ``image``, or the placeholder ``torch.zeros((3, size, size))``,
        float32, because only its shape matters for target generation.
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
        "image": image if image is not None else torch.zeros((3, size, size), dtype=torch.float32),
        "polygons": [np.asarray(polygon, dtype=np.float32).reshape(1, -1, 2) for polygon in polygons],
        "image_filename": image_filename,
        "inverse_matrix": np.asarray(inverse_matrix, dtype=np.float64),
        "ignore_tags": [bool(tag) for tag in ignore_tags],
    }


def resolve_image_size(annotated, image_size=None):
    """Return the ``(height, width)`` of an annotated image, in pixels.

    The image file's header is used when the image exists, then the size the
    annotation states (WildReceipt, receipt JSON), then ``image_size``.

    Raises
    ------
    FileNotFoundError
        If none of the three is available. The message names the annotation.
    """
    if annotated.image_path is not None:
        return read_image_size(annotated.image_path)
    if annotated.image_size is not None:
        return tuple(annotated.image_size)
    if image_size is not None:
        return tuple(int(value) for value in image_size)
    raise FileNotFoundError(
        f"image not found for {annotated.name!r} (annotation {annotated.annotation_path}) and the "
        "annotation states no image size: put the image beside the annotation, point image_dir "
        "at the images, or pass image_size=(height, width) (--image-size WIDTHxHEIGHT on the "
        "command line)"
    )


def load_samples(folder, size=640, format=None, image_size=None, image_dir=None):
    """Load every annotated image of a dataset folder as a letterboxed sample.

    Annotations are read with `fastcollate.readers.read_dataset`, image sizes
    with `resolve_image_size`, and polygons are scaled with `letterbox`.
    Pixels are not decoded: ``image`` is a zero placeholder of the output shape.

    Parameters
    ----------
    folder : str or os.PathLike
        Dataset folder or annotation file in one of `fastcollate.readers.FORMATS`.
    size : int, optional
        Side of the square output image in pixels.
    format : str, optional
        Annotation format, detected by default.
    image_size : tuple of int, optional
        ``(height, width)`` of images that are missing from the folder.
    image_dir : str or os.PathLike, optional
        Folder with the images, if they are not beside the annotations.

    Returns
    -------
    list of dict
        Samples as built by `make_sample`, sorted by image name for one
        annotation file per image, in file order for the JSON formats.
        Don't-care regions are kept, with ``ignore_tags`` True.
    """
    samples = []
    for annotated in read_dataset(folder, format=format, image_dir=image_dir):
        original_size = resolve_image_size(annotated, image_size)
        polygons, _, inverse_matrix = letterbox([word.polygon for word in annotated.words], original_size, size)
        ignore_tags = [word.ignore for word in annotated.words]
        samples.append(make_sample(polygons, size, annotated.name, inverse_matrix, ignore_tags))
    return samples
