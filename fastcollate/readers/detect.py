"""Detect the annotation format of a dataset folder or file from the structure of its lines.

Detection looks at every non-blank line, not only the first, and classifies
it by structure rather than by validity, so that a malformed line still
reaches the reader of its format, which names the line and the problem:

- a line that starts with ``{`` is WildReceipt (JSON Lines), valid or not;
- a line with at least 28 leading numeric fields, or with 20 or more
  comma-separated fields and a last field of ``CARE`` or ``###`` in any
  case, is CTW1500;
- any other line is ICDAR 2015, which covers SROIE.

When the lines of the per-image files do not all agree, detection raises
instead of guessing, because a CTW1500 line read as ICDAR 2015 silently
becomes a quad and a transcription.
"""

import json
from pathlib import Path

from fastcollate.readers.common import numbered_lines, read_text
from fastcollate.readers.ctw1500 import CARE_FLAG, CTW1500_POINTS, IGNORE_FLAG

ICDAR2015 = "icdar2015"
SROIE = "sroie"
CTW1500 = "ctw1500"
WILDRECEIPT = "wildreceipt"
RECEIPT_JSON = "receipt_json"

# An ICDAR 2015 line has 9 fields, and more only when the transcription
# contains commas. 20 fields and a CTW1500 flag at the end is a CTW1500 line
# with missing or extra fields.
_MIN_CTW1500_FIELDS = 20
_LAYOUT_NAMES = {ICDAR2015: "ICDAR 2015 (x1,y1,...,x4,y4,transcription)",
                 CTW1500: "CTW1500 (x1,y1,...,x14,y14,CARE or ###)"}


def detect_format(path):
    """Detect the annotation format of a dataset folder or file.

    A ``*.json`` file with a top-level ``images`` key is receipt JSON, and so
    is a ``*.json`` file that is not valid JSON, so that its reader reports
    the line and column. Else a ``*.txt`` file whose first non-blank line
    starts with ``{`` makes the folder WildReceipt. Otherwise every line of
    every ``*.txt`` file is classified as CTW1500 or ICDAR 2015 (which covers
    SROIE) by its structure, as the module documentation describes. Files
    without lines and files that are not UTF-8 do not vote, and a folder of
    only such files is ICDAR 2015.

    Raises
    ------
    FileNotFoundError
        If no ``*.txt`` or receipt JSON file is found.
    ValueError
        If some lines have the CTW1500 layout and others the ICDAR 2015
        layout. The message names a file and line of each and suggests
        passing the format explicitly.
    """
    path = Path(path)
    if path.is_dir():
        json_files = [file for file in sorted(path.glob("*.json")) if file.is_file()]
    else:
        json_files = [path] if path.suffix.lower() == ".json" else []
    if any(json_status(file) != "other" for file in json_files):
        return RECEIPT_JSON

    text_files = [path] if path.is_file() else text_annotation_files(path)
    if not text_files:
        raise FileNotFoundError(
            f"no annotation files found in {path}: expected *.txt files (ICDAR 2015, SROIE, CTW1500, "
            "WildReceipt) or a *.json file with an 'images' key (receipt JSON)"
        )

    contents = [(file, _read_or_none(file)) for file in text_files]
    if any(content is not None and looks_like_json_lines(content) for _, content in contents):
        return WILDRECEIPT

    first_line_of = {}
    for file, content in contents:
        if content is None:
            continue
        for line_number, line in numbered_lines(content):
            first_line_of.setdefault(classify_line(line), (file, line_number))
    if len(first_line_of) > 1:
        raise ValueError(_ambiguous_message(first_line_of))
    return next(iter(first_line_of), ICDAR2015)


def classify_line(line):
    """Return ``"ctw1500"`` or ``"icdar2015"`` for one line of a per-image annotation file."""
    fields = [field.strip() for field in line.split(",")]
    leading_numbers = 0
    for field in fields:
        if not _is_numeric(field):
            break
        leading_numbers += 1

    if leading_numbers >= 2 * CTW1500_POINTS:
        return CTW1500
    if len(fields) >= _MIN_CTW1500_FIELDS and fields[-1].upper() in (CARE_FLAG, IGNORE_FLAG):
        return CTW1500
    return ICDAR2015


def looks_like_json_lines(content):
    """Return True if the first non-blank line of ``content`` starts a JSON object (WildReceipt)."""
    for _, line in numbered_lines(content):
        return line.lstrip().startswith("{")
    return False


def json_status(path):
    """Return ``"receipt"`` for receipt JSON, ``"invalid"`` for a file that is not JSON, else ``"other"``."""
    try:
        document = json.loads(read_text(path))
    except ValueError:
        return "invalid"
    return "receipt" if isinstance(document, dict) and "images" in document else "other"


def text_annotation_files(folder):
    """Return the ``*.txt`` files of ``folder``, sorted, leaving out folders named like one."""
    return [file for file in sorted(Path(folder).glob("*.txt")) if file.is_file()]


def _is_numeric(field):
    # nan and inf count as numbers here: the reader of the format rejects
    # them with the line's own layout in the message.
    try:
        float(field)
    except ValueError:
        return False
    return True


def _read_or_none(path):
    try:
        return read_text(path)
    except ValueError:
        return None


def _ambiguous_message(first_line_of):
    locations = "; ".join(
        f"{file}, line {line_number} has the {_LAYOUT_NAMES[format]} layout"
        for format, (file, line_number) in sorted(first_line_of.items())
    )
    return (
        f"cannot detect the annotation format: {locations}. Fix the malformed lines, or pass "
        f"--format {CTW1500} or --format {ICDAR2015} (format= in Python) to read every file "
        "as one format and get the line that does not fit"
    )
