"""Real text-detection samples shipped with the package.

``icdar2015/`` contains ICDAR 2015 training images 1-10 with their ground
truth, and ``sroie/`` contains ten SROIE receipt scans with their line boxes.
Both sets are CC BY 4.0 and copied unmodified. Sources and citations are in
``ATTRIBUTION.md`` next to this file.
"""

from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent
"""Folder that contains the sample sets."""


def sample_dirs():
    """Return the folders of the bundled sample sets.

    Returns
    -------
    tuple of pathlib.Path
        ``(SAMPLE_DIR / "icdar2015", SAMPLE_DIR / "sroie")``.
    """
    return (SAMPLE_DIR / "icdar2015", SAMPLE_DIR / "sroie")
