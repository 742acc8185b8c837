"""ICDAR 2015 and SROIE text annotations: ``x1,y1,...,x4,y4,transcription`` per line."""

from pathlib import Path

from fastcollate.readers.common import Word, numbered_lines, parse_number, polygon_arrays, read_text

ICDAR_LINE_FORMAT = "x1,y1,x2,y2,x3,y3,x4,y4,transcription"
IGNORE_TEXT = "###"


def read_icdar_annotation(path):
    """Read an ICDAR 2015 or SROIE ground-truth file.

    Each non-blank line is ``x1,y1,x2,y2,x3,y3,x4,y4,transcription``. The
    file is decoded as UTF-8 with an optional byte-order mark, and a trailing
    ``\\r`` is stripped from each line. Only the first 8 commas separate
    fields, so a transcription may contain commas. The transcription ``###``
    marks a don't-care region.

    Parameters
    ----------
    path : str or os.PathLike
        Annotation file.

    Returns
    -------
    list of Word
        One record per region, in file order. Polygons are (4, 2), int64 if
        every coordinate in the file is an integer, float64 otherwise.

    Raises
    ------
    ValueError
        If the file is not valid UTF-8, or a line has fewer than 9 fields or
        a coordinate that is not a finite number. The message names the file,
        the 1-based line number and the line.
    """
    path = Path(path)
    coordinate_lists = []
    texts = []
    for line_number, line in numbered_lines(read_text(path)):
        coordinates, text = _parse_line(line, path, line_number)
        coordinate_lists.append(coordinates)
        texts.append(text)

    polygons = polygon_arrays(coordinate_lists)
    return [Word(polygon=polygon, text=text, ignore=text == IGNORE_TEXT) for polygon, text in zip(polygons, texts)]


def _parse_line(line, path, line_number):
    fields = line.split(",", 8)
    location = f"{path}, line {line_number}"
    if len(fields) < 9:
        raise ValueError(
            f"{location}: expected {ICDAR_LINE_FORMAT!r} (8 coordinates and a "
            f"transcription), got {len(fields)} comma-separated fields: {line!r}"
        )

    coordinates = []
    for field in fields[:8]:
        value = parse_number(field)
        if value is None:
            raise ValueError(
                f"{location}: invalid coordinate {field!r}, expected a finite "
                f"number in {ICDAR_LINE_FORMAT!r}: {line!r}"
            )
        coordinates.append(value)
    return coordinates, fields[8]
