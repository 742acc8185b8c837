"""Target parameters, path selection and the per-image entry point."""

import logging
import math
import numbers
import threading
from dataclasses import dataclass, replace

import numpy as np

from fastcollate.config import REFERENCE_VARIABLE, reference_requested
from fastcollate.fast import make_targets_fast
from fastcollate.polygons import SKIP_LOG, prepare_polygons
from fastcollate.profiles import (
    BASELINE,
    check_profile_params,
    draw_profile_targets,
    validate_ignore_tags,
    validate_profile,
)
from fastcollate.validation import check_bool

logger = logging.getLogger(__name__)

FAST = "fast"
REFERENCE = "reference"

_logged_paths = set()
_log_lock = threading.Lock()


@dataclass(frozen=True)
class TargetParams:
    """Parameters of the DBNet prob map and threshold map.

    Parameters
    ----------
    shrink_ratio : float
        r in D = area * (1 - r**2) / perimeter, the offset distance of the
        shrunk and dilated polygons (Liao et al., "Real-time Scene Text
        Detection with Differentiable Binarization", AAAI 2020). In [0, 1).
    thresh_min, thresh_max : float
        The threshold map is scaled from [0, 1] to [thresh_min, thresh_max],
        so thresh_min must not exceed thresh_max.
    corrected_edges : bool
        Clamp the squared sine of the classic distance at 0, so that a pixel
        lying exactly on an edge gets the distance 0 even if the cosine rounds
        above 1. Without the clamp such a pixel would get NaN and keep its old
        value. For integer vertices below 2**20 px the cosine never rounds
        above 1, so the option changes no pixel there; see
        ``docs/semantics.md``.
    profile : str
        Whose target semantics to follow: ``"baseline"`` (the classic
        receipt-detection collate), ``"mhliao"`` (the original DB code) or
        ``"paddleocr"``. The last two add a shrink mask and a threshold
        mask; see ``docs/profiles.md``.
    """

    shrink_ratio: float = 0.4
    thresh_min: float = 0.3
    thresh_max: float = 0.7
    corrected_edges: bool = False
    profile: str = BASELINE

    def __post_init__(self):
        for name in ("shrink_ratio", "thresh_min", "thresh_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{name} must be a real number, got {value!r}")
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(f"{name} must be finite, got {value!r}")
            # Python floats keep the classic float32 arithmetic: a numpy
            # float64 scalar would turn the threshold map into float64.
            object.__setattr__(self, name, number)
        if not 0.0 <= self.shrink_ratio < 1.0:
            raise ValueError(f"shrink_ratio must be in [0, 1), got {self.shrink_ratio!r}")
        if self.thresh_min > self.thresh_max:
            raise ValueError(
                f"thresh_min must not exceed thresh_max, got thresh_min={self.thresh_min!r} and "
                f"thresh_max={self.thresh_max!r}; the threshold map would be inverted (swap the two values)"
            )
        object.__setattr__(self, "corrected_edges", check_bool("corrected_edges", self.corrected_edges))
        validate_profile(self.profile)
        check_profile_params(self.profile, self.shrink_ratio, self.corrected_edges)


def resolve_path(reference=None):
    """Return ``"reference"`` or ``"fast"``, logging the choice once per process.

    ``reference=None`` defers to the ``FASTCOLLATE_REFERENCE`` variable.
    """
    reference = check_bool("reference", reference, allow_none=True)
    if reference is None:
        reference = reference_requested()
        source = f"{REFERENCE_VARIABLE}" if reference else f"default ({REFERENCE_VARIABLE} not set to 1)"
    else:
        source = "the reference argument"
    path = REFERENCE if reference else FAST

    with _log_lock:
        first_time = path not in _logged_paths
        _logged_paths.add(path)
    if first_time:
        logger.info("Building DBNet targets on the %s path (chosen by %s).", path, source)
    return path


def draw_targets_into(prepared, prob_map, thresh_map, params, path):
    """Draw one image's maps into zeroed float32 (H, W) arrays; return the skip counts."""
    if path == REFERENCE:
        # Imported here so that OpenCV stays optional for the fast path.
        from fastcollate.reference import make_targets_reference

        height, width = prob_map.shape
        prob, thresh, skipped = make_targets_reference(
            prepared, height, width, params.shrink_ratio, params.thresh_min,
            params.thresh_max, params.corrected_edges,
        )
        prob_map[...] = prob
        thresh_map[...] = thresh
        return skipped

    return make_targets_fast(
        prepared, prob_map, thresh_map, params.shrink_ratio, params.thresh_min,
        params.thresh_max, params.corrected_edges,
    )


def make_db_targets(polygons, image_size, params=None, reference=None, sample_index=0,
                    filename=None, profile=None, ignore_tags=None):
    """Build the DBNet prob map and threshold map of one image.

    Parameters
    ----------
    polygons : sequence of array_like, each (N, 2) or (1, N, 2)
        Text polygons in pixels, x then y, int or float. Floats are truncated
        toward zero as by ``astype(np.int32)``.
    image_size : tuple of int
        ``(height, width)`` of the maps.
    params : TargetParams, optional
    reference : bool, optional
        True for the reference path, False for the fast path, None to follow
        ``FASTCOLLATE_REFERENCE``.
    sample_index : int
    filename : str, optional
        Name the sample in error messages and logs.
    profile : str, optional
        Overrides ``params.profile``: ``"baseline"``, ``"mhliao"`` or
        ``"paddleocr"``. The masked profiles keep float vertices.
    ignore_tags : sequence of bool, optional
        One tag per polygon, True for a don't-care region such as ``###``.
        Only the masked profiles read it, and every profile checks that it
        has one bool per polygon. None means no polygon is ignored.

    Returns
    -------
    prob_map : ndarray of float32, shape (height, width)
    thresh_map : ndarray of float32, shape (height, width)
    prob_mask, thresh_mask : ndarray of float32, shape (height, width)
        Only for the ``"mhliao"`` and ``"paddleocr"`` profiles.

    Raises
    ------
    ValueError
        If a polygon is not (N, 2) or (1, N, 2), ``image_size`` is not two
        positive integers, ``profile`` is unknown, or ``ignore_tags`` is not
        one bool per polygon.

    Notes
    -----
    Unusable polygons (non-finite, too few points, zero area, dilated box
    outside the image) are skipped, counted by :func:`fastcollate.skip_counts`
    and logged once per reason and process.
    """
    params = params if params is not None else TargetParams()
    if profile is not None and profile != params.profile:
        params = replace(params, profile=profile)
    height, width = validate_image_size(image_size)
    path = resolve_path(reference)

    if params.profile != BASELINE:
        prob_map = np.zeros((height, width), dtype=np.float32)
        thresh_map = np.zeros((height, width), dtype=np.float32)
        prob_mask = np.ones((height, width), dtype=np.float32)
        thresh_mask = np.zeros((height, width), dtype=np.float32)
        skipped = draw_profile_targets(polygons, ignore_tags, prob_map, thresh_map, prob_mask, thresh_mask,
                                       params, path, sample_index, filename)
        SKIP_LOG.record(skipped, sample_index, filename)
        return prob_map, thresh_map, prob_mask, thresh_mask

    prepared = prepare_polygons(polygons, sample_index, filename)
    if ignore_tags is not None:
        validate_ignore_tags(ignore_tags, len(polygons), sample_index, filename)
    prob_map = np.zeros((height, width), dtype=np.float32)
    thresh_map = np.zeros((height, width), dtype=np.float32)
    skipped = draw_targets_into(prepared, prob_map, thresh_map, params, path)
    SKIP_LOG.record(skipped, sample_index, filename)
    return prob_map, thresh_map


def validate_image_size(image_size):
    """Return ``(height, width)`` as ints, or raise ``ValueError``."""
    try:
        height, width = image_size
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (height, width), got {image_size!r}") from None
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (height, width)):
        raise ValueError(f"image_size must be two integers, got {image_size!r}")
    height, width = int(height), int(width)
    if height <= 0 or width <= 0:
        raise ValueError(f"image_size must be positive, got {image_size!r}")
    return height, width
