"""Draw a collated batch: each image beside its prob map, threshold map and masks.

Drawing uses OpenCV (``pip install 'fastcollate[images]'``).
"""

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from fastcollate.optional import IMAGES_EXTRA, import_optional

LABEL_HEIGHT = 22
"""Height in pixels of the caption bar above each panel."""

SEPARATOR_WIDTH = 4
"""Width in pixels of the gray column between two panels."""

CARE_COLOR = (0, 200, 0)  # BGR green: a region that training learns.
IGNORE_COLOR = (0, 0, 230)  # BGR red: a don't-care region.


def map_keys(batch):
    """Return the batch keys to draw as maps, in batch order.

    A key is drawn if its name contains ``map`` or ``mask`` and its value is
    a tensor of shape (B, 1, H, W) or (B, H, W). Mask maps that collate
    options add are therefore drawn without changes here.
    """
    keys = []
    for key, value in batch.items():
        if ("map" in key or "mask" in key) and isinstance(value, torch.Tensor) and value.dim() in (3, 4):
            keys.append(key)
    return keys


def render_sample(batch, index, extra_panels=()):
    """Draw sample ``index`` of a collated batch as one BGR uint8 picture.

    Panels, left to right: the image with its polygons (green, don't-care
    red), then every `map_keys` map, then ``extra_panels``. Each panel is
    (H, W) and has a caption bar of `LABEL_HEIGHT` pixels on top, and
    panels are `SEPARATOR_WIDTH` pixels apart, so the picture is
    (LABEL_HEIGHT + H, panels * W + (panels - 1) * SEPARATOR_WIDTH, 3).

    Parameters
    ----------
    batch : dict
        Output of `FastDBCollateFN`, with ``images`` (B, C, H, W).
    index : int
        Sample in the batch.
    extra_panels : sequence of (str, ndarray)
        Caption and (H, W) float map with values in [0, 1], or (H, W, 3)
        BGR uint8 picture, appended after the maps.
    """
    image = batch["images"][index]
    _, height, width = image.shape
    panels = [("image", draw_polygons(to_bgr(image), batch, index))]
    for key in map_keys(batch):
        values = batch[key][index].reshape(height, width).numpy()
        panels.append((describe_map(key, values), map_to_bgr(values, colored="mask" not in key)))
    for caption, values in extra_panels:
        picture = values if values.ndim == 3 else map_to_bgr(values, colored=True)
        panels.append((caption, picture))
    separator = np.full((LABEL_HEIGHT + height, SEPARATOR_WIDTH, 3), 128, dtype=np.uint8)
    columns = []
    for caption, picture in panels:
        if columns:
            columns.append(separator)
        columns.append(with_caption(picture, caption))
    return np.hstack(columns)


def to_bgr(image):
    """Turn a (C, H, W) float image tensor into an (H, W, 3) BGR uint8 picture.

    Values in [0, 1] are scaled by 255. Values outside, as left by a
    normalising transform, are stretched from their minimum to maximum.
    """
    pixels = image.detach().to(torch.float32).cpu().numpy()
    if pixels.shape[0] == 1:
        pixels = np.repeat(pixels, 3, axis=0)
    pixels = pixels[:3].transpose(1, 2, 0)
    low, high = float(pixels.min()), float(pixels.max())
    if low < 0.0 or high > 1.0:
        pixels = (pixels - low) / max(high - low, 1e-12)
    return np.ascontiguousarray((pixels * 255.0 + 0.5).astype(np.uint8)[:, :, ::-1])


def draw_polygons(picture, batch, index):
    """Draw the sample's polygons on ``picture`` in place and return it."""
    cv2 = import_optional("cv2", "fastcollate render", IMAGES_EXTRA)

    polygons = batch.get("polygons")
    if polygons is None:
        return picture
    ignore_tags = batch.get("ignore_tags", [None] * len(polygons))[index] or []
    for number, polygon in enumerate(polygons[index]):
        points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        if len(points) < 2 or not np.isfinite(points).all():
            continue
        points = np.round(points).astype(np.int32)
        ignored = number < len(ignore_tags) and ignore_tags[number]
        color = IGNORE_COLOR if ignored else CARE_COLOR
        cv2.polylines(picture, [points.reshape(-1, 1, 2)], isClosed=True, color=color, thickness=1)
    return picture


def map_to_bgr(values, colored):
    """Turn an (H, W) float map with values in [0, 1] into a BGR uint8 picture.

    Colored maps use the viridis colormap (dark blue 0, yellow 1), others
    grayscale. Values are clipped to [0, 1], and NaN draws as 0.
    """
    cv2 = import_optional("cv2", "fastcollate render", IMAGES_EXTRA)

    gray = (np.nan_to_num(np.clip(values, 0.0, 1.0), nan=0.0) * 255.0 + 0.5).astype(np.uint8)
    if colored:
        return cv2.applyColorMap(gray, cv2.COLORMAP_VIRIDIS)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def describe_map(key, values):
    """Return a caption: the key and the range of its values."""
    return f"{key} {float(values.min()):.2f}-{float(values.max()):.2f}"


def with_caption(picture, caption):
    """Put a black caption bar of `LABEL_HEIGHT` pixels with white text above ``picture``."""
    cv2 = import_optional("cv2", "fastcollate render", IMAGES_EXTRA)

    bar = np.zeros((LABEL_HEIGHT, picture.shape[1], 3), dtype=np.uint8)
    cv2.putText(bar, caption, (4, LABEL_HEIGHT - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1,
                cv2.LINE_AA)
    return np.vstack([bar, picture])


def edge_comparison_panels(default_batch, corrected_batch, index):
    """Return panels comparing the threshold map without and with ``corrected_edges``.

    The first panel is the map built with ``corrected_edges=True``. The
    second is the absolute difference to the default map, stretched so that
    the largest difference is white, and its caption gives the count of
    pixels that differ.
    """
    default_map = default_batch["thresh_maps"][index, 0].numpy()
    corrected_map = corrected_batch["thresh_maps"][index, 0].numpy()
    difference = np.abs(corrected_map.astype(np.float64) - default_map.astype(np.float64))
    differing = int(np.count_nonzero(corrected_map != default_map))
    largest = float(difference.max())
    stretched = difference / largest if largest > 0 else difference
    return [
        (describe_map("thresh_maps corrected_edges", corrected_map), corrected_map),
        (f"|difference|: {differing} px differ", stretched),
    ]


def render_folder(data, out, size=640, *, limit=None, batch_size=8, format=None, image_size=None,
                  image_dir=None, collate_options=None, compare_edges=False, progress=True):
    """Collate the images of a dataset folder and write one `render_sample` PNG per image.

    Parameters
    ----------
    data, format, image_size, image_dir
        As for `fastcollate.dataset.TextDetectionDataset`.
    out : str or os.PathLike
        Output folder, created if missing. Each PNG is named after its
        image file, with ``/`` replaced by ``_`` and a ``-N`` suffix where
        two names would collide.
    size : int
        Side of the letterboxed image and of each panel, in pixels.
    limit : int, optional
        Render only the first ``limit`` images.
    batch_size : int
        Images per collated batch.
    collate_options : dict, optional
        Keyword arguments of `FastDBCollateFN`.
    compare_edges : bool
        Add the `edge_comparison_panels`.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    list of pathlib.Path
        The PNG files written, in dataset order.

    Raises
    ------
    ValueError
        If ``collate_options`` contains an argument `FastDBCollateFN` does not take.
    OSError
        If a PNG cannot be written.
    """
    cv2 = import_optional("cv2", "fastcollate render", IMAGES_EXTRA)

    from fastcollate.collate import FastDBCollateFN
    from fastcollate.dataset import TextDetectionDataset

    options = dict(collate_options or {})
    try:
        collate = FastDBCollateFN(**options)
        corrected = FastDBCollateFN(**{**options, "corrected_edges": True}) if compare_edges else None
    except TypeError as error:
        raise ValueError(f"invalid collate options {options}: {error}") from None

    dataset = TextDetectionDataset(data, size, format=format, image_size=image_size, image_dir=image_dir)
    count = len(dataset) if limit is None else min(limit, len(dataset))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    written = []
    used_names = set()
    with tqdm(total=count, unit="image", desc="render", disable=not progress) as progress_bar:
        for start in range(0, count, batch_size):
            samples = [dataset[index] for index in range(start, min(start + batch_size, count))]
            batch = collate(samples)
            corrected_batch = corrected(samples) if corrected is not None else None

            for index, sample in enumerate(samples):
                extra_panels = edge_comparison_panels(batch, corrected_batch, index) if compare_edges else ()
                picture = render_sample(batch, index, extra_panels)
                path = out / png_name(sample["image_filename"], used_names)
                if not cv2.imwrite(str(path), picture):
                    raise OSError(f"could not write {path}; check that the folder is writable")
                written.append(path)
                progress_bar.update(1)
    return written


def png_name(image_filename, used_names):
    """Return a PNG file name for an image, unique among ``used_names``, and add it there."""
    stem = Path(str(image_filename)).with_suffix("").as_posix().replace("/", "_")
    name = f"{stem}.png"
    number = 1
    while name in used_names:
        number += 1
        name = f"{stem}-{number}.png"
    used_names.add(name)
    return name
