"""Compiled calls that draw both maps of one image.

The collate makes one call, :func:`draw_targets`, per image. With profiling
on it makes two, :func:`fill_prob_map` and :func:`draw_thresh_map`, so that
the fill and the threshold kernel can be timed apart. Both routes run the
same kernels in the same order, so the maps are identical to the bit.
"""

import numpy as np

from fastcollate._jit import jit
from fastcollate.kernels.fill import fill_polygons
from fastcollate.kernels.threshold import draw_border, normalize_thresh_map


@jit
def fill_prob_map(prob_map, shrunk_points, shrunk_starts):
    """Fill the shrunk polygons with 1 in the prob map."""
    fill_polygons(prob_map, shrunk_points, shrunk_starts, np.float32(1.0))


@jit
def draw_thresh_map(thresh_map, points, starts, distances, dilated_points, dilated_starts,
                    dilated_owners, scale, offset, corrected_edges):
    """Draw the borders of the dilated polygons and normalise the threshold map.

    ``dilated_owners[p]`` is the index, into ``starts`` and ``distances``, of
    the polygon whose dilation is piece ``p``. Returns the number of dilated
    pieces whose box lies entirely outside the image.
    """
    outside = 0
    for piece in range(len(dilated_starts) - 1):
        owner = dilated_owners[piece]
        drawn = draw_border(
            thresh_map, points, starts[owner], starts[owner + 1],
            dilated_points, dilated_starts[piece], dilated_starts[piece + 1],
            distances[owner], corrected_edges,
        )
        if not drawn:
            outside += 1

    normalize_thresh_map(thresh_map, scale, offset)
    return outside


@jit
def draw_targets(prob_map, thresh_map, points, starts, distances, shrunk_points, shrunk_starts,
                 dilated_points, dilated_starts, dilated_owners, scale, offset, corrected_edges):
    """Fill the shrunk polygons, draw the borders and normalise the threshold map.

    Returns the number of dilated pieces whose box lies entirely outside
    the image, as :func:`draw_thresh_map` does.
    """
    fill_prob_map(prob_map, shrunk_points, shrunk_starts)
    return draw_thresh_map(thresh_map, points, starts, distances, dilated_points, dilated_starts,
                           dilated_owners, scale, offset, corrected_edges)
