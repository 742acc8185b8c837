"""SCUT-CTW1500 curved text lines: 14 points (28 coordinates) and a flag per line."""

from pathlib import Path

from fastcollate.readers.common import Word, numbered_lines, parse_number, polygon_arrays, read_text

CTW1500_LINE_FORMAT = "x1,y1,...,x14,y14,CARE (or ### for a don't-care region)"
CTW1500_POINTS = 14
CARE_FLAG = "CARE"
IGNORE_FLAG = "###"


def read_ctw1500_annotation(path):
    """Read a CTW1500 ground-truth file of the evaluation layout.

    Each non-blank line is 28 coordinates (14 points) followed by the flag
    ``CARE`` or ``###`` (don't care). The published files use integers, and
    decimal coordinates are accepted too. There is no transcription, so
    every `Word` has ``text`` None. A BOM, ``\\r`` line ends and spaces
    around fields are accepted.

    Parameters
    ----------
    path : str or os.PathLike
        Annotation file.

    Returns
    -------
    list of Word
        One record per region, in file order. Polygons are (14, 2), int64 if
        every coordinate in the file is an integer, float64 otherwise.

    Raises
    ------
    ValueError
        If the file is not valid UTF-8 or a line does not have 28 finite
        numbers and a flag. The message names the file, the 1-based line number, the
        line and the expected layout.
    """
    path = Path(path)
    coordinate_lists = []
    flags = []
    for line_number, line in numbered_lines(read_text(path)):
        coordinates, flag = _parse_line(line, path, line_number)
        coordinate_lists.append(coordinates)
        flags.append(flag)

    polygons = polygon_arrays(coordinate_lists)
    return [Word(polygon=polygon, text=None, ignore=flag == IGNORE_FLAG) for polygon, flag in zip(polygons, flags)]


def _parse_line(line, path, line_number):
    fields = [field.strip() for field in line.split(",")]
    location = f"{path}, line {line_number}"
    expected_fields = 2 * CTW1500_POINTS + 1
    if len(fields) != expected_fields:
        raise ValueError(
            f"{location}: expected {CTW1500_LINE_FORMAT!r} ({expected_fields} comma-separated "
            f"fields), got {len(fields)} fields: {line!r}"
        )

    flag = fields[-1]
    if flag not in (CARE_FLAG, IGNORE_FLAG):
        raise ValueError(
            f"{location}: invalid flag {flag!r}, expected {CARE_FLAG!r} or {IGNORE_FLAG!r} "
            f"after the 28 coordinates in {CTW1500_LINE_FORMAT!r}: {line!r}"
        )

    coordinates = []
    for field in fields[:-1]:
        value = parse_number(field)
        if value is None:
            raise ValueError(
                f"{location}: invalid coordinate {field!r}, expected a finite number in "
                f"{CTW1500_LINE_FORMAT!r}: {line!r}"
            )
        coordinates.append(value)
    return coordinates, flag
