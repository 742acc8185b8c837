"""Content keys of cache entries.

A key is a blake2b digest of everything that decides one image's maps: the
normalised polygons, the image shape, every target parameter including the
profile, the target semantics and the formats of the key and of the entry.
For the masked profiles the polygons are float64 and include ignore tags. It depends on
content only, never on object ids, file paths or Python's hash seed, so the
same image gets the same key in every worker, epoch, run and rank.

The fast path and the reference path give the same maps to the bit, so the
path is not part of the key and both paths share entries.
"""

import dataclasses
import hashlib
import struct

import numpy as np

from fastcollate.cache.codec import CODEC_VERSION
from fastcollate.polygons import SKIP_REASONS

# Bump when the bytes fed to the hash below change.
KEY_FORMAT_VERSION = 1

# The target semantics the maps follow: the classic DBNet prob map and
# threshold map. A collate with other semantics must use another name.
TARGET_SEMANTICS = "dbnet-classic"

DIGEST_SIZE = 20
KEY_LENGTH = 2 * DIGEST_SIZE


def target_key(prepared, image_shape, params, semantics=TARGET_SEMANTICS):
    """Return the hex key of one image's targets.

    Parameters
    ----------
    prepared : fastcollate.polygons.PreparedPolygons or fastcollate.profiles.prepare.FloatPolygons
        The polygons as ``prepare_polygons`` (int32) or
        ``prepare_float_polygons`` (float64, with ignore tags) returns them.
        Vertex order is kept as given, because it decides the maps.
    image_shape : tuple of int
        ``(height, width)`` of the maps.
    params : fastcollate.targets.TargetParams
    semantics : str

    Returns
    -------
    str
        ``KEY_LENGTH`` lowercase hex digits.
    """
    digest = hashlib.blake2b(digest_size=DIGEST_SIZE, person=b"fastcollate")
    digest.update(f"key {KEY_FORMAT_VERSION} codec {CODEC_VERSION} {semantics}\n".encode())

    height, width = image_shape
    digest.update(struct.pack("<qq", int(height), int(width)))

    for field in dataclasses.fields(params):
        digest.update(f"{field.name}={encode_parameter(getattr(params, field.name))}\n".encode())

    # Only the masked profiles' polygons carry ignore tags, so baseline keys are unchanged.
    names = ("points", "starts", "ignore") if hasattr(prepared, "ignore") else ("points", "starts")
    for name in names:
        array = np.ascontiguousarray(getattr(prepared, name))
        digest.update(f"{name} {array.dtype.str} {array.shape}\n".encode())
        digest.update(array.tobytes())

    # Polygons rejected before drawing leave no points behind, but the entry
    # stores their skip counts, so two inputs that differ only there must not
    # share an entry.
    counts = [prepared.skipped.get(reason, 0) for reason in SKIP_REASONS]
    digest.update(struct.pack(f"<{len(counts)}q", *counts))
    return digest.hexdigest()


def encode_parameter(value):
    """Return the exact text form of a target parameter for the key.

    Floats use ``float.hex``, so parameters that differ in the last bit get
    different keys. Raises ``TypeError`` for a type without an exact form.
    """
    if isinstance(value, bool):
        return f"bool:{value}"
    if isinstance(value, int):
        return f"int:{value}"
    if isinstance(value, float):
        return f"float:{value.hex()}"
    if isinstance(value, str):
        return f"str:{value!r}"
    if value is None:
        return "none"
    raise TypeError(
        f"target parameter {value!r} of type {type(value).__name__} has no exact key form; "
        "extend fastcollate.cache.key.encode_parameter"
    )
