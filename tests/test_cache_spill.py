"""The spill directory on real files: bad entries, concurrent writers, read-only mode and the cap."""

import logging
import multiprocessing
import os
import struct
import threading
import time

import numpy as np
import pytest

from fastcollate.cache import TargetCache
from fastcollate.cache.codec import CODEC_VERSION
from fastcollate.cache.spill import HEADER, MAGIC, SpillDirectory, TEMPORARY_MAX_AGE_S, pack_entry_file
from fastcollate.polygons import prepare_polygons
from fastcollate.synthetic import make_page
from fastcollate.targets import FAST, TargetParams, draw_targets_into

SIDE = 160
KEY_A = "ab" + "0" * 38
KEY_B = "ab" + "1" * 38


@pytest.fixture(scope="module")
def prepared():
    return prepare_polygons(make_page(np.random.default_rng(3), SIDE, 20))


def fresh_maps(prepared):
    prob_map = np.zeros((SIDE, SIDE), dtype=np.float32)
    thresh_map = np.zeros((SIDE, SIDE), dtype=np.float32)
    skipped = draw_targets_into(prepared, prob_map, thresh_map, TargetParams(), FAST)
    return prob_map, thresh_map, skipped


def draw_cached(cache, prepared):
    prob_map = np.zeros((SIDE, SIDE), dtype=np.float32)
    thresh_map = np.zeros((SIDE, SIDE), dtype=np.float32)
    skipped = cache.draw_into(prepared, prob_map, thresh_map, TargetParams(), FAST)
    # Spill files are written in the background; tests read them right away.
    cache.flush()
    return prob_map, thresh_map, skipped


def only_entry_file(root):
    files = [path for path in root.rglob("*.fct")]
    assert len(files) == 1
    return files[0]


def test_spill_round_trip(tmp_path):
    spill = SpillDirectory(tmp_path)
    assert spill.read(KEY_A) is None
    assert spill.write(KEY_A, b"payload")

    assert spill.read(KEY_A) == b"payload"
    assert spill.path(KEY_A) == tmp_path / "ab" / f"{KEY_A}.fct"
    assert spill.path(KEY_A).is_file()


def truncate_payload(data):
    return data[:-10]


def truncate_header(data):
    return data[:HEADER.size // 2]


def flip_payload_byte(data):
    corrupted = bytearray(data)
    corrupted[HEADER.size + 5] ^= 0xFF
    return bytes(corrupted)


def foreign_file(data):
    return b"\x89PNG\r\n\x1a\n" + bytes(200)


def wrong_format_version(data):
    return data[:8] + struct.pack("<H", 99) + data[10:]


def wrong_codec_version(data):
    return data[:10] + struct.pack("<I", CODEC_VERSION + 1) + data[14:]


def empty_file(data):
    return b""


BAD_FILES = [truncate_payload, truncate_header, flip_payload_byte, foreign_file,
             wrong_format_version, wrong_codec_version, empty_file]


@pytest.mark.parametrize("damage", BAD_FILES, ids=[damage.__name__ for damage in BAD_FILES])
def test_bad_entry_recomputed_and_rewritten(tmp_path, prepared, damage, caplog):
    expected_prob, expected_thresh, expected_skipped = fresh_maps(prepared)
    draw_cached(TargetCache(spill_dir=tmp_path), prepared)
    path = only_entry_file(tmp_path)
    good = path.read_bytes()
    path.write_bytes(damage(good))

    cache = TargetCache(spill_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="fastcollate.cache.spill"):
        prob_map, thresh_map, skipped = draw_cached(cache, prepared)

    stats = cache.stats()
    assert stats["misses"] == 1
    assert stats["disk_hits"] == 0
    assert stats["disk_invalid_entries"] == 1
    assert np.array_equal(prob_map, expected_prob)
    assert np.array_equal(thresh_map, expected_thresh)
    assert skipped == expected_skipped
    assert str(path) in caplog.text
    assert "recomputed and rewritten" in caplog.text
    assert path.read_bytes() == good


def test_bad_entry_logged_once_per_path(tmp_path, prepared, caplog):
    draw_cached(TargetCache(spill_dir=tmp_path), prepared)
    path = only_entry_file(tmp_path)
    spill = SpillDirectory(tmp_path, read_only=True)
    path.write_bytes(b"garbage")

    with caplog.at_level(logging.WARNING, logger="fastcollate.cache.spill"):
        for _ in range(3):
            assert spill.read(path.stem) is None

    assert caplog.text.count(str(path)) == 1
    assert spill.counters.snapshot()["disk_invalid_entries"] == 3


def test_entry_under_wrong_key_is_a_miss(tmp_path, caplog):
    spill = SpillDirectory(tmp_path)
    spill.write(KEY_B, b"payload of b")
    os.replace(spill.path(KEY_B), spill.path(KEY_A))

    with caplog.at_level(logging.WARNING, logger="fastcollate.cache.spill"):
        assert spill.read(KEY_A) is None
    assert f"expected {KEY_A}" in caplog.text


def test_half_written_temporary_ignored(tmp_path):
    spill = SpillDirectory(tmp_path)
    spill.path(KEY_A).parent.mkdir()
    half_written = spill.path(KEY_A).with_name(f".{KEY_A}.deadbeef.tmp")
    half_written.write_bytes(pack_entry_file(KEY_A, b"payload")[:HEADER.size + 3])

    assert spill.read(KEY_A) is None
    assert spill.write(KEY_A, b"payload")
    assert spill.read(KEY_A) == b"payload"


def test_old_temporary_removed_by_eviction(tmp_path):
    spill = SpillDirectory(tmp_path, max_bytes=10**6)
    folder = spill.path(KEY_A).parent
    folder.mkdir()
    old = folder / f".{KEY_A}.old.tmp"
    recent = folder / f".{KEY_A}.recent.tmp"
    old.write_bytes(b"x" * 100)
    recent.write_bytes(b"x" * 100)
    long_ago = time.time() - 2 * TEMPORARY_MAX_AGE_S
    os.utime(old, (long_ago, long_ago))

    spill.enforce_cap()

    assert not old.exists()
    assert recent.exists()


def test_header_layout():
    data = pack_entry_file(KEY_A, b"payload")
    magic, version, codec, key, _, length = HEADER.unpack_from(data)
    assert magic == MAGIC
    assert version == 1
    assert codec == CODEC_VERSION
    assert key.hex() == KEY_A
    assert length == len(b"payload")
    assert data[HEADER.size:] == b"payload"


def test_read_only_never_writes(tmp_path, prepared):
    cache = TargetCache(spill_dir=tmp_path, read_only=True)
    expected_prob, expected_thresh, _ = fresh_maps(prepared)

    prob_map, thresh_map, _ = draw_cached(cache, prepared)
    draw_cached(cache, prepared)

    assert list(tmp_path.iterdir()) == []
    assert np.array_equal(prob_map, expected_prob)
    assert np.array_equal(thresh_map, expected_thresh)
    assert cache.stats()["misses"] == 1
    assert cache.stats()["memory_hits"] == 1


def test_read_only_reads_and_keeps_bad_files(tmp_path, prepared, caplog):
    draw_cached(TargetCache(spill_dir=tmp_path), prepared)
    path = only_entry_file(tmp_path)
    cache = TargetCache(spill_dir=tmp_path, read_only=True)
    draw_cached(cache, prepared)
    assert cache.stats()["disk_hits"] == 1

    path.write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="fastcollate.cache.spill"):
        draw_cached(TargetCache(spill_dir=tmp_path, read_only=True), prepared)

    assert path.read_bytes() == b"garbage"
    assert "left as is (read-only)" in caplog.text


def test_read_only_rejects_changes(tmp_path):
    spill = SpillDirectory(tmp_path, max_bytes=10, read_only=True)
    assert not spill.write(KEY_A, b"payload")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(PermissionError, match="read-only"):
        spill.enforce_cap()


def test_read_only_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="fastcollate precompute"):
        TargetCache(spill_dir=tmp_path / "missing", read_only=True)


def numbered_key(number):
    return f"{number:040x}"


def test_size_cap_evicts_oldest(tmp_path):
    entry = bytes(1000)
    file_size = HEADER.size + len(entry)
    spill = SpillDirectory(tmp_path, max_bytes=10 * file_size)
    for number in range(10):
        assert spill.write(numbered_key(number), entry)
        # Distinct, increasing modification times, as on a filesystem with
        # coarse timestamps two writes may share one.
        stamp = 1_000_000 + number
        os.utime(spill.path(numbered_key(number)), (stamp, stamp))

    spill.write(numbered_key(10), entry)

    remaining = sorted(path.stem for path in tmp_path.rglob("*.fct"))
    total = sum(path.stat().st_size for path in tmp_path.rglob("*.fct"))
    assert total <= 0.9 * spill.max_bytes
    assert numbered_key(0) not in remaining
    assert numbered_key(1) not in remaining
    assert numbered_key(10) in remaining
    assert numbered_key(9) in remaining
    assert spill.counters.snapshot()["disk_evicted_entries"] == 11 - len(remaining)


def test_size_cap_holds_over_many_writes(tmp_path):
    entry = bytes(500)
    cap = 20 * (HEADER.size + len(entry))
    spill = SpillDirectory(tmp_path, max_bytes=cap)
    for number in range(100):
        spill.write(numbered_key(number), entry)
        total = sum(path.stat().st_size for path in tmp_path.rglob("*.fct"))
        assert total <= cap


def write_and_read_keys(spill, keys, barrier):
    barrier.wait(timeout=60)
    for _ in range(5):
        for key in keys:
            spill.write(key, key.encode() * 5000)
            # Another writer may be replacing this file right now: a reader
            # sees either no file or a whole one, never a torn one.
            entry = spill.read(keys[0])
            if entry is not None and entry != keys[0].encode() * 5000:
                raise SystemExit(f"read a wrong entry for {keys[0]}")


# Python 3.12+ warns when it forks a process that runs threads, as torch does.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_concurrent_writers_same_keys(tmp_path):
    keys = [numbered_key(number) for number in range(30)]
    shared_spill = SpillDirectory(tmp_path)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(3)
    writers = [context.Process(target=write_and_read_keys, args=(shared_spill, keys, barrier))
               for _ in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
        assert writer.exitcode == 0

    spill = SpillDirectory(tmp_path, read_only=True)
    for key in keys:
        assert spill.read(key) == key.encode() * 5000
    assert list(tmp_path.rglob("*.tmp")) == []
    assert shared_spill.counters.snapshot()["disk_writes"] == 3 * 5 * len(keys)
    assert shared_spill.counters.snapshot()["disk_invalid_entries"] == 0


def test_failed_write_logged_not_raised(tmp_path, prepared, caplog):
    expected = fresh_maps(prepared)
    cache = TargetCache(spill_dir=tmp_path)
    key_folder = cache.spill.path("0" * 40).parent
    # A file where every entry folder would go makes each write fail.
    for prefix in (f"{number:02x}" for number in range(256)):
        (tmp_path / prefix).write_bytes(b"")
    assert key_folder.is_file()

    with caplog.at_level(logging.WARNING, logger="fastcollate.cache.spill"):
        prob_map, thresh_map, skipped = draw_cached(cache, prepared)

    assert np.array_equal(prob_map, expected[0])
    assert np.array_equal(thresh_map, expected[1])
    assert skipped == expected[2]
    assert cache.stats()["disk_write_errors"] == 1
    assert "Failed to write cache entry" in caplog.text


def test_failed_delete_during_eviction_logged(tmp_path, caplog):
    spill = SpillDirectory(tmp_path, max_bytes=10**6)
    folder = spill.path(KEY_A).parent
    folder.mkdir()
    # unlink fails on a directory, as it would on a file another user owns.
    undeletable = folder / f".{KEY_A}.stuck.tmp"
    undeletable.mkdir()
    long_ago = time.time() - 2 * TEMPORARY_MAX_AGE_S
    os.utime(undeletable, (long_ago, long_ago))

    with caplog.at_level(logging.WARNING, logger="fastcollate.cache.spill"):
        # A thread, so that a deadlock fails the test instead of hanging it.
        evictor = threading.Thread(target=spill.enforce_cap, daemon=True)
        evictor.start()
        evictor.join(timeout=30)

    assert not evictor.is_alive()
    assert "Failed to delete" in caplog.text
    assert undeletable.is_dir()


def test_undeletable_entry_still_counted(tmp_path, caplog):
    spill = SpillDirectory(tmp_path, max_bytes=1)
    stuck = spill.path(KEY_A)
    stuck.parent.mkdir()
    # unlink fails on a directory, so eviction cannot free these bytes.
    stuck.mkdir()
    size = stuck.stat().st_size

    with caplog.at_level(logging.WARNING, logger="fastcollate.cache.spill"):
        total = spill.enforce_cap()

    assert total == size
    assert stuck.is_dir()
    assert "Failed to delete" in caplog.text


def test_write_keeps_temporary_file_of_another_writer(tmp_path):
    spill = SpillDirectory(tmp_path)
    spill.write(KEY_B, b"first entry")
    number = next(spill._temporary_numbers) + 1
    other = spill.path(KEY_A).with_name(f".{KEY_A}.{spill._temporary_tag}.{number}.tmp")
    other.parent.mkdir(exist_ok=True)
    other.write_bytes(b"another writer")

    assert not spill.write(KEY_A, b"entry")

    assert other.read_bytes() == b"another writer"
    assert spill.counters.snapshot()["disk_write_errors"] == 1
