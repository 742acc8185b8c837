"""Shared counters cross real worker processes with every start method."""

import multiprocessing
import pickle

import pytest

from fastcollate.stats import SharedCounters


def add_from_child(counters):
    counters.add(images=2, seconds=0.5)
    counters.maximum(peak=7)


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_children_add_to_the_parent_counters(method):
    counters = SharedCounters(["images", "seconds", "peak"])
    counters.add(images=1)
    context = multiprocessing.get_context(method)
    children = [context.Process(target=add_from_child, args=(counters,)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0

    assert counters.snapshot() == {"images": 5.0, "seconds": 1.0, "peak": 7.0}


def test_pickle_outside_start_makes_new_block():
    counters = SharedCounters(["images"])
    counters.add(images=3)

    copy = pickle.loads(pickle.dumps(counters))
    copy.add(images=1)

    assert copy.snapshot() == {"images": 1.0}
    assert counters.snapshot() == {"images": 3.0}


def test_unknown_counter_names_the_known_ones():
    counters = SharedCounters(["images"])
    with pytest.raises(KeyError, match="known counters: images"):
        counters.add(imgs=1)


def test_reset_and_maximum():
    counters = SharedCounters(["peak"])
    counters.maximum(peak=5)
    counters.maximum(peak=3)
    assert counters.snapshot() == {"peak": 5.0}
    counters.reset()
    assert counters.snapshot() == {"peak": 0.0}
