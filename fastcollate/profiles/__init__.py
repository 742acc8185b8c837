"""Target profiles: the target semantics of the main DBNet codebases.

``baseline`` is the receipt-detection ``DBCollateFN`` that the rest of the
package reproduces: int32 vertices, OpenCV's area and perimeter, every
shrink piece filled and no masks. ``mhliao`` follows the original DB code
(MhLiao/DB) and ``paddleocr`` PaddleOCR's DB pipeline. Both take float
vertices and ignore tags, and both return a shrink mask and a threshold mask.
``docs/profiles.md`` lists the differences.
"""

from fastcollate.profiles.prepare import prepare_float_polygons, validate_ignore_tags

BASELINE = "baseline"
MHLIAO = "mhliao"
PADDLEOCR = "paddleocr"
PROFILES = (BASELINE, MHLIAO, PADDLEOCR)
MASKED_PROFILES = (MHLIAO, PADDLEOCR)
# Allows at most 99 retry ratios per polygon.
MIN_PADDLEOCR_SHRINK_RATIO = 0.01

__all__ = [
    "BASELINE", "MASKED_PROFILES", "MHLIAO", "PADDLEOCR", "PROFILES",
    "draw_prepared_profile_targets", "draw_profile_targets", "prepare_float_polygons",
    "validate_ignore_tags", "validate_profile",
]


def validate_profile(profile):
    """Return ``profile`` if it names a profile, or raise ``ValueError``."""
    if not isinstance(profile, str) or profile not in PROFILES:
        accepted = ", ".join(repr(name) for name in PROFILES)
        raise ValueError(f"profile must be one of {accepted}, got {profile!r}")
    return profile


def draw_profile_targets(polygons, ignore_tags, prob_map, thresh_map, prob_mask, thresh_mask,
                         params, path, sample_index=0, filename=None, cache=None):
    """Draw one image's maps and masks for a masked profile and return the skip counts.

    ``prob_map``, ``thresh_map`` and ``thresh_mask`` must be zeroed float32
    (H, W) arrays and ``prob_mask`` filled with ones. All four may be views
    of the batch tensors. ``path`` is ``"reference"`` or ``"fast"``. With a
    :class:`fastcollate.TargetCache` as ``cache``, the maps come from the
    cache where it has them.
    """
    prepared = prepare_float_polygons(polygons, ignore_tags, sample_index, filename)
    maps = (prob_map, thresh_map, prob_mask, thresh_mask)
    if cache is not None:
        return cache.draw_profile_into(prepared, maps, params, path)
    return draw_prepared_profile_targets(prepared, maps, params, path)


def draw_prepared_profile_targets(prepared, maps, params, path):
    """Draw the four ``maps`` of :func:`draw_profile_targets` from validated polygons.

    ``prepared`` is the :class:`fastcollate.profiles.prepare.FloatPolygons`
    of one image. Returns the skip counts.
    """
    prob_map, thresh_map, prob_mask, thresh_mask = maps
    height, width = prob_map.shape
    arguments = (params.shrink_ratio, params.thresh_min, params.thresh_max)

    if path == "reference":
        # Imported here so that OpenCV and shapely stay optional for the fast path.
        from fastcollate.profiles import reference

        function = reference.make_targets_mhliao if params.profile == MHLIAO else reference.make_targets_paddleocr
        prob, thresh, shrink_mask, border_mask, skipped = function(prepared, height, width, *arguments)
        prob_map[...] = prob
        thresh_map[...] = thresh
        prob_mask[...] = shrink_mask
        thresh_mask[...] = border_mask
        return skipped

    from fastcollate.profiles import fast

    function = fast.make_targets_mhliao_fast if params.profile == MHLIAO else fast.make_targets_paddleocr_fast
    return function(prepared, prob_map, thresh_map, prob_mask, thresh_mask, *arguments)


def check_profile_params(profile, shrink_ratio, corrected_edges):
    """Raise ``ValueError`` for parameters that a profile cannot honour."""
    if profile != BASELINE and corrected_edges:
        raise ValueError(
            f"corrected_edges applies only to the 'baseline' profile, got profile={profile!r}. "
            "Set corrected_edges=False"
        )
    # PaddleOCR tries up to ceil((1 - r) / r) shrink ratios per polygon. A
    # tiny ratio would make that list, and every polygon's retries, huge.
    if profile == PADDLEOCR and shrink_ratio < MIN_PADDLEOCR_SHRINK_RATIO:
        raise ValueError(
            f"the 'paddleocr' profile needs shrink_ratio >= {MIN_PADDLEOCR_SHRINK_RATIO}, because it "
            "retries the shrink with each ratio of np.arange(shrink_ratio, 1, shrink_ratio); "
            f"got shrink_ratio={shrink_ratio!r}"
        )


