"""Image size from the header of a JPEG or PNG file, without decoding pixels."""

from pathlib import Path

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers of every JPEG coding process. 0xC4 (DHT), 0xC8 (JPG)
# and 0xCC (DAC) sit in the same range but are not frame headers.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM and the restart markers RST0-RST7.
_JPEG_STANDALONE_MARKERS = frozenset([0x01, *range(0xD0, 0xD8)])


def read_image_size(path):
    """Read the pixel size of a JPEG or PNG file from its header.

    Only the header is read. The size is the stored frame size: an EXIF
    orientation tag, which some decoders apply by rotating the image, is not
    taken into account.

    Parameters
    ----------
    path : str or os.PathLike
        JPEG or PNG file.

    Returns
    -------
    tuple of int
        ``(height, width)``.

    Raises
    ------
    ValueError
        If the file is neither JPEG nor PNG, is truncated, or has an invalid
        header. The message names the file.
    """
    path = Path(path)
    with path.open("rb") as file:
        signature = file.read(len(_PNG_SIGNATURE))
        if signature == _PNG_SIGNATURE:
            return _read_png_size(file, path)
        if signature.startswith(b"\xff\xd8"):
            file.seek(2)
            return _read_jpeg_size(file, path)
    raise ValueError(
        f"{path}: unsupported image format, expected a JPEG or PNG file "
        f"(first bytes {signature!r})"
    )


def _read_exact(file, count, path, kind):
    data = file.read(count)
    if len(data) < count:
        raise ValueError(
            f"{path}: truncated {kind} file, ended at byte {file.tell()} "
            f"before the image size was found"
        )
    return data


def _read_png_size(file, path):
    # The first chunk must be IHDR: length (4 bytes), type, width, height.
    header = _read_exact(file, 16, path, "PNG")
    if header[4:8] != b"IHDR":
        raise ValueError(f"{path}: invalid PNG, the first chunk is {header[4:8]!r}, expected b'IHDR'")
    width = int.from_bytes(header[8:12], "big")
    height = int.from_bytes(header[12:16], "big")
    if width == 0 or height == 0:
        raise ValueError(f"{path}: invalid PNG, IHDR gives size {width}x{height}")
    return height, width


def _read_jpeg_size(file, path):
    # Walk the marker segments after SOI until a start-of-frame header.
    while True:
        offset = file.tell()
        prefix = _read_exact(file, 1, path, "JPEG")[0]
        if prefix != 0xFF:
            raise ValueError(
                f"{path}: invalid JPEG, expected a marker (0xFF) at byte {offset}, found 0x{prefix:02X}"
            )
        marker = 0xFF
        while marker == 0xFF:  # Any number of 0xFF fill bytes may precede a marker.
            marker = _read_exact(file, 1, path, "JPEG")[0]

        if marker in _JPEG_STANDALONE_MARKERS:
            continue
        if marker in (0xD9, 0xDA):
            raise ValueError(
                f"{path}: invalid JPEG, reached marker 0x{marker:02X} "
                f"(end of image or start of scan) before a frame header"
            )

        length = int.from_bytes(_read_exact(file, 2, path, "JPEG"), "big")
        if length < 2:
            raise ValueError(f"{path}: invalid JPEG, segment 0x{marker:02X} at byte {offset} has length {length}")
        if marker not in _JPEG_SOF_MARKERS:
            file.seek(length - 2, 1)
            continue

        frame = _read_exact(file, 5, path, "JPEG")
        height = int.from_bytes(frame[1:3], "big")
        width = int.from_bytes(frame[3:5], "big")
        if height == 0 or width == 0:
            # Height 0 means that a DNL marker after the first scan gives it.
            raise ValueError(
                f"{path}: unsupported JPEG, frame header gives size {width}x{height} "
                f"(a height defined by a DNL marker is not supported)"
            )
        return height, width
