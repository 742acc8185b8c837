"""Seeded synthetic pages of word polygons for tests and benchmarks.

A page is laid out like a receipt: rows of words from the top down, each row
with its own text height. About 70% of words are quadrilaterals rotated by up
to 15 degrees, and the rest are 8-16 point polygons that follow a gently
curved baseline. Some rows start left of the page or run past its right
edge, and the first and last rows may cross the top and bottom edges, so some
polygons extend outside the image.

All polygons run clockwise on screen (y down): the top side from left to
right, then the bottom side from right to left, as in ICDAR 2015 and SROIE.
"""

import numpy as np

from .datasets import make_sample

CURVED_FRACTION = 0.3
# Fraction of rows that run on until a word crosses the right edge. Other rows
# end at a random right margin between 70% and 100% of the page width.
RIGHT_OVERFLOW_FRACTION = 0.2
MAX_ROTATION_DEGREES = 15.0
# Text height range as a fraction of the page side, and width as a multiple of height.
MIN_HEIGHT_FRACTION = 1 / 60
MAX_HEIGHT_FRACTION = 1 / 25
MIN_ASPECT_RATIO = 2.0
MAX_ASPECT_RATIO = 12.0
# Largest sagitta of a curved baseline as a fraction of text height. With a
# width of at least twice the height, the baseline's radius of curvature stays
# above 1.25 heights, so the top and bottom sides (half a height away) never
# cross each other.
MAX_BEND_FRACTION = 0.4


def make_page(rng, size, n_words):
    """Generate the word polygons of one synthetic page.

    Words fill rows from the top of the page down. When the page is full
    before ``n_words`` are placed, layout starts again at the top, so later
    words overlap earlier ones.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness. The output depends only on its state, so
        ``numpy.random.default_rng(seed)`` gives a reproducible page.
    size : int
        Side of the square page in pixels.
    n_words : int
        Number of polygons to generate.

    Returns
    -------
    list of ndarray, float64 (N, 2)
        ``n_words`` polygons in page pixels, x then y. N is 4 for a
        quadrilateral and an even number from 8 to 16 for a curved word.
    """
    if size <= 0:
        raise ValueError(f"invalid size {size}, expected a positive number of pixels")
    if n_words < 0:
        raise ValueError(f"invalid n_words {n_words}, expected a non-negative count")

    min_height = size * MIN_HEIGHT_FRACTION
    max_height = size * MAX_HEIGHT_FRACTION
    polygons = []
    while len(polygons) < n_words:
        # Half of the passes start with a row that crosses the top edge.
        row_top = rng.uniform(-0.5, 0.5) * max_height
        while row_top < size and len(polygons) < n_words:
            height = rng.uniform(min_height, max_height)
            # About one row in five starts with a word that crosses the left edge.
            left = rng.uniform(-0.5, 2.0) * height
            if rng.random() < RIGHT_OVERFLOW_FRACTION:
                row_right = np.inf
            else:
                row_right = size * rng.uniform(0.7, 1.0)
            while left < size and len(polygons) < n_words:
                width = height * rng.uniform(MIN_ASPECT_RATIO, MAX_ASPECT_RATIO)
                if left + width > row_right:
                    break
                polygons.append(_make_word(rng, left, row_top, width, height))
                left += width + height * rng.uniform(0.4, 1.5)
            row_top += height * rng.uniform(1.3, 2.0)
    return polygons


def _make_word(rng, left, top, width, height):
    """Return a word polygon for the box at (left, top), rotated about its centre."""
    if rng.random() < CURVED_FRACTION:
        points = _curved_outline(rng, width, height)
    else:
        half_width, half_height = width / 2, height / 2
        points = np.array(
            [
                [-half_width, -half_height],
                [half_width, -half_height],
                [half_width, half_height],
                [-half_width, half_height],
            ]
        )

    angle = np.deg2rad(rng.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES))
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    centre = np.array([left + width / 2, top + height / 2])
    return points @ rotation.T + centre


def _curved_outline(rng, width, height):
    """Return a centred outline of a word on a parabolic baseline."""
    n_side = int(rng.integers(4, 9))  # 4-8 points per side, 8-16 in total.
    bend = rng.uniform(-MAX_BEND_FRACTION, MAX_BEND_FRACTION) * height
    t = np.linspace(0.0, 1.0, n_side)

    # Centre line y = bend * 4t(1 - t), shifted so that its mean offset is zero.
    x = (t - 0.5) * width
    y = bend * (4 * t * (1 - t) - 2 / 3)
    slope = bend * 4 * (1 - 2 * t) / width

    # Unit normal pointing down the screen (towards larger y).
    norm = np.hypot(slope, 1.0)
    normal = np.stack([-slope / norm, 1.0 / norm], axis=1)
    centre_line = np.stack([x, y], axis=1)
    top = centre_line - normal * (height / 2)
    bottom = centre_line + normal * (height / 2)
    return np.concatenate([top, bottom[::-1]])


def make_batch(seed, size, n_words, batch):
    """Generate a batch of synthetic samples in the collate's input format.

    Parameters
    ----------
    seed : int
        Seed for ``numpy.random.default_rng``. Pages are drawn one after the
        other from that generator, so the pages of a batch differ.
    size : int
        Side of the square images in pixels.
    n_words : int
        Number of polygons per page.
    batch : int
        Number of samples.

    Returns
    -------
    list of dict
        Samples as built by `fastcollate.datasets.make_sample`: a zero
        placeholder image of shape (3, size, size), float32 (1, N, 2)
        polygons, ``image_filename`` ``synthetic_{seed}_{i}.jpg``, an identity
        ``inverse_matrix`` and all ``ignore_tags`` False.
    """
    rng = np.random.default_rng(seed)
    samples = []
    for index in range(batch):
        polygons = make_page(rng, size, n_words)
        samples.append(
            make_sample(
                polygons,
                size,
                image_filename=f"synthetic_{seed}_{index}.jpg",
                inverse_matrix=np.eye(3, dtype=np.float64),
                ignore_tags=[False] * len(polygons),
            )
        )
    return samples
