"""One compiled call that draws both maps of one image."""

import numpy as np

from fastcollate._jit import jit
from fastcollate.kernels.fill import fill_polygons
from fastcollate.kernels.threshold import draw_border, normalize_thresh_map


@jit
def draw_targets(prob_map, thresh_map, points, starts, distances, shrunk_points, shrunk_starts,
                 dilated_points, dilated_starts, dilated_owners, scale, offset, corrected_edges):
    """Fill the shrunk polygons, draw the borders and normalise the threshold map.

    ``dilated_owners[p]`` is the index, into ``starts`` and ``distances``, of
    the polygon whose dilation is piece ``p``. Returns the number of dilated
    pieces whose box lies entirely outside the image.
    """
    fill_polygons(prob_map, shrunk_points, shrunk_starts, np.float32(1.0))

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
