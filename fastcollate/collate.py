"""``FastDBCollateFN``: the DataLoader collate that builds DBNet targets."""

import functools
import gc
import logging
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np
import torch
from torch.utils.data import get_worker_info

from fastcollate.buffers import BufferPool, new_batch_tensor
from fastcollate.cache import TargetCache
from fastcollate.config import num_threads_requested
from fastcollate.polygons import SKIP_LOG, describe_image_type, describe_sample, prepare_polygons
from fastcollate.profiles import BASELINE, draw_profile_targets, validate_ignore_tags
from fastcollate.profiling import CollateProfiler, collect_stats
from fastcollate.targets import REFERENCE, TargetParams, draw_targets_into, resolve_path
from fastcollate.threads import map_in_order, resolve_num_threads, validate_num_threads
from fastcollate.warmup import load_kernels_for
from fastcollate.validation import check_bool
from fastcollate.worker_ring import lease_batch, worker_ring

logger = logging.getLogger(__name__)

# Sample keys the batch already carries under its own names. Any other key
# is passed through as a list after the maps.
SAMPLE_KEYS = ("image", "image_filename", "inverse_matrix", "polygons")


class FastDBCollateFN:
    """Collate DBNet samples into a batch with prob maps and threshold maps.

    A drop-in replacement for the classic ``DBCollateFN``: the same
    parameters, input and output, and the same float32 maps bit for bit.

    Parameters
    ----------
    shrink_ratio : float, default 0.4
    thresh_min : float, default 0.3
    thresh_max : float, default 0.7
        See :class:`fastcollate.targets.TargetParams`.
    reference : bool, optional
        True forces the plain reference path, False the fast path; None (the
        default) follows the ``FASTCOLLATE_REFERENCE`` environment variable.
    corrected_edges : bool, default False
        Clamp the classic distance formula so that a pixel exactly on an edge
        can never get NaN; see :class:`fastcollate.targets.TargetParams`.
    inference_mode : bool, default False
        Skip the maps; the attribute can also be set after construction.
        A cache is not used while it is set, because there are no maps to cache.
    reuse_buffers : bool, default True
        Reuse a batch's tensors once nothing references their storage any
        more, which saves the page faults of new memory. Inside DataLoader
        workers the buffers are shared memory, reused once the main process
        has dropped the batch (see :mod:`fastcollate.worker_ring`). Clone
        batch tensors that the loop sends on to another process, or pass
        False, which allocates every batch afresh, as ``default_collate`` does.
    cache : TargetCache or dict, optional
        Memoize each image's maps, for fixed transforms such as validation;
        a dict contains :class:`fastcollate.TargetCache` keyword arguments, as
        a YAML preset gives them. None (the default) builds every map afresh.
    profile : str, default "baseline"
        ``"baseline"``, ``"mhliao"`` (the original DB code) or ``"paddleocr"``;
        see :class:`fastcollate.targets.TargetParams` and ``docs/profiles.md``.
    profiling : bool, default False
        Time each stage and count images, polygons, skips and peak memory in
        every process that runs the collate; read them with
        :meth:`profiling_stats`. See :mod:`fastcollate.profiling`.
    num_threads : int, optional
        Threads that build the images of a batch in parallel on the fast
        path, capped at the cores this process may run on. None (the
        default) follows ``FASTCOLLATE_NUM_THREADS`` (empty counts as
        unset; an invalid value raises ``ValueError`` here), else uses 1 thread
        inside a DataLoader worker and every core in the main process. The
        reference path always runs on one thread.

    Constructing the first fast-path collate of a process loads the compiled
    kernels (or compiles them into Numba's cache), so that DataLoader
    workers started with ``fork`` inherit them. Workers started with
    ``spawn`` or ``forkserver`` load them when they unpickle the collate.

    Notes
    -----
    Each sample is a dict with ``image`` (tensor of shape (C, H, W), the same
    for every sample of a batch), ``polygons`` (a list of (N, 2) or (1, N, 2)
    arrays in pixels), ``image_filename`` and ``inverse_matrix``. The batch
    is an ``OrderedDict`` with ``images`` (B, C, H, W), ``image_filename``,
    ``inverse_matrix``, ``polygons``, ``prob_maps`` and ``thresh_maps``
    (float32, (B, 1, H, W)), then any other sample keys as lists.

    The ``"mhliao"`` and ``"paddleocr"`` profiles read the optional sample
    key ``ignore_tags`` (one bool per polygon, True for ``###``) and add
    ``prob_masks`` and ``thresh_masks`` (float32, (B, 1, H, W)) after the
    maps.
    """

    # Collates pickled before profiling or threads existed lack these attributes.
    profiler = None
    num_threads = None

    def __init__(self, shrink_ratio=0.4, thresh_min=0.3, thresh_max=0.7, *, reference=None,
                 corrected_edges=False, inference_mode=False, reuse_buffers=True, cache=None,
                 profile=BASELINE, profiling=False, num_threads=None):
        reference = check_bool("reference", reference, allow_none=True)
        inference_mode = check_bool("inference_mode", inference_mode)
        reuse_buffers = check_bool("reuse_buffers", reuse_buffers)
        profiling = check_bool("profiling", profiling)
        self.params = TargetParams(shrink_ratio, thresh_min, thresh_max, corrected_edges, profile)
        self.cache = TargetCache.from_config(cache)
        if self.cache is not None and inference_mode:
            logger.info("inference_mode=True builds no maps, so the target cache %r stays unused "
                        "until inference_mode is set to False.", self.cache)
        validate_num_threads(num_threads)
        if num_threads is None:
            # Raise here, in the process that builds the collate, rather than
            # at the first batch inside a DataLoader worker.
            num_threads_requested()
        self.num_threads = num_threads
        load_kernels_for(reference, self.params.profile, profiling, self.cache is not None)
        self.reference = reference
        self.inference_mode = inference_mode
        self.buffers = BufferPool() if reuse_buffers else None
        self.profiler = CollateProfiler() if profiling else None

    def __setstate__(self, state):
        # A spawned DataLoader worker unpickles the collate without running
        # __init__, so it loads the kernels here rather than in its first batch.
        self.__dict__.update(state)
        load_kernels_for(self.reference, self.params.profile, self.profiler is not None,
                         self.cache is not None)

    @property
    def shrink_ratio(self):
        return self.params.shrink_ratio

    @property
    def thresh_min(self):
        return self.params.thresh_min

    @property
    def thresh_max(self):
        return self.params.thresh_max

    def __repr__(self):
        return (
            f"{type(self).__name__}(shrink_ratio={self.shrink_ratio}, thresh_min={self.thresh_min}, "
            f"thresh_max={self.thresh_max}, reference={self.reference}, "
            f"corrected_edges={self.params.corrected_edges}, inference_mode={self.inference_mode}, "
            f"profile={self.params.profile!r}, profiling={self.profiler is not None}, "
            f"num_threads={self.num_threads}"
            + ("" if self.cache is None else f", cache={self.cache!r}")
            + ")"
        )

    def new_tensor(self, shape, dtype):
        if self.buffers is None:
            return new_batch_tensor(shape, dtype)
        return self.buffers.tensor(shape, dtype)

    def profiling_stats(self, reset=False):
        """Return stage times and counts summed over all processes; see :func:`fastcollate.collect_stats`."""
        return collect_stats(self, reset=reset)

    def reset_profiling_stats(self):
        """Set the profiling times and counts back to 0 in all processes."""
        self.profiling_stats(reset=True)

    def __call__(self, batch):
        leasing = self.buffers is not None and get_worker_info() is not None
        try:
            with garbage_collection_paused():
                if self.profiler is None:
                    collated = self._build_batch(batch, PLAIN_STEPS)
                else:
                    with self.profiler.batch() as steps:
                        collated = self._build_batch(batch, steps)
        except BaseException:
            if leasing:
                worker_ring().abandon_pending()
            raise
        return lease_batch(collated) if leasing else collated

    def _build_batch(self, batch, steps):
        """Build the batch, calling ``steps`` for the timed steps (plain or profiled)."""
        images = steps.stack_images(batch, self.new_tensor)
        filenames = [sample.get("image_filename") for sample in batch]
        collated = OrderedDict(
            images=images,
            image_filename=filenames,
            inverse_matrix=[sample.get("inverse_matrix") for sample in batch],
        )

        if not self.inference_mode:
            path = resolve_path(self.reference)
            batch_size, _, height, width = images.shape
            if height == 0 or width == 0:
                raise ValueError(
                    f"{describe_sample(0, filenames[0])}: key 'image' has shape "
                    f"{tuple(images.shape[1:])}; the maps need a positive height and width"
                )
            prob_maps = self.new_tensor((batch_size, 1, height, width), torch.float32)
            thresh_maps = self.new_tensor((batch_size, 1, height, width), torch.float32)
            # With a cache, a hit writes every pixel and a miss clears its own maps.
            if self.cache is None or self.params.profile != BASELINE:
                prob_maps.numpy().fill(0.0)
                thresh_maps.numpy().fill(0.0)
            masks = None
            if self.params.profile != BASELINE:
                masks = (self.new_tensor((batch_size, 1, height, width), torch.float32),
                         self.new_tensor((batch_size, 1, height, width), torch.float32))
                masks[0].numpy().fill(1.0)
                masks[1].numpy().fill(0.0)
            for index, sample in enumerate(batch):
                if "polygons" not in sample:
                    raise ValueError(
                        f"{describe_sample(index, filenames[index])}: key 'polygons' is missing; "
                        "every training sample needs a list of polygons (set inference_mode=True "
                        "to collate images only)"
                    )
                # The baseline maps ignore the tags, but a wrong count is still a broken sample.
                if masks is None and "ignore_tags" in sample:
                    validate_ignore_tags(sample["ignore_tags"], len(sample["polygons"]), index,
                                         filenames[index])

            def draw_image(index):
                sample = batch[index]
                if masks is not None:
                    return steps.draw_profile_targets(
                        sample["polygons"], sample.get("ignore_tags"), prob_maps[index, 0].numpy(),
                        thresh_maps[index, 0].numpy(), masks[0][index, 0].numpy(),
                        masks[1][index, 0].numpy(), self.params, path, index, filenames[index],
                        self.cache,
                    )
                prepared = steps.prepare_polygons(sample["polygons"], index, filenames[index])
                prob_map = prob_maps[index, 0].numpy()
                thresh_map = thresh_maps[index, 0].numpy()
                if self.cache is None:
                    return steps.draw_targets_into(prepared, prob_map, thresh_map, self.params, path)
                return steps.draw_cached(self.cache, prepared, prob_map, thresh_map, self.params, path)

            # The reference path stays plain, and the stage timers time one
            # image at a time, so both run serially.
            serial = path == REFERENCE or self.profiler is not None
            num_threads = 1 if serial else resolve_num_threads(self.num_threads)
            skip_counts = map_in_order(draw_image, batch_size, num_threads)
            for index, skipped in enumerate(skip_counts):
                SKIP_LOG.record(skipped, index, filenames[index])
            polygons = [sample["polygons"] for sample in batch]
            collated.update(polygons=polygons, prob_maps=prob_maps, thresh_maps=thresh_maps)
            if masks is not None:
                collated.update(prob_masks=masks[0], thresh_masks=masks[1])

        for key in batch[0]:
            if key not in SAMPLE_KEYS and key not in collated:
                collated[key] = [sample.get(key) for sample in batch]
        return collated


@contextmanager
def garbage_collection_paused():
    """Turn Python's cyclic garbage collector off for the block, if it is on.

    pyclipper returns every offset polygon as nested lists, so a batch creates
    tens of thousands of short-lived lists at its peak. Those set off the
    collector every few batches, and a full collection walks every object of
    a process that has imported torch (about 0.1 s in one development run). The lists
    form no cycles and reference counting frees them, so the pause frees the
    same memory. A collector that the caller turned off stays off.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def stack_images(batch, new_tensor):
    """Stack the samples' (C, H, W) image tensors, or raise ``ValueError``."""
    if not isinstance(batch, (list, tuple)) or not batch:
        raise ValueError(f"batch must be a non-empty list of sample dicts, got {type(batch).__name__}")

    images = []
    for index, sample in enumerate(batch):
        if not isinstance(sample, dict):
            raise ValueError(f"{describe_sample(index, None)}: expected a dict, got {type(sample).__name__}")
        name = describe_sample(index, sample.get("image_filename"))
        if "image" not in sample:
            raise ValueError(f"{name}: key 'image' is missing; expected a (C, H, W) tensor")
        image = sample["image"]
        if not isinstance(image, torch.Tensor):
            raise ValueError(describe_image_type(name, image))
        if image.dim() != 3:
            raise ValueError(f"{name}: key 'image' has shape {tuple(image.shape)}; expected a (C, H, W) tensor")
        if images and image.shape != images[0].shape:
            raise ValueError(
                f"{name}: key 'image' has shape {tuple(image.shape)} but sample 0 has "
                f"{tuple(images[0].shape)}; resize or pad images to one size before collating"
            )
        images.append(image)

    first = images[0]
    if first.device.type != "cpu" or not numpy_supports(first.dtype) or any(
        image.requires_grad or image.dtype != first.dtype or image.is_conj() or image.is_neg()
        for image in images
    ):
        return torch.stack(images, dim=0)

    # numpy copies run on the calling thread; torch.stack would start
    # intra-op threads, which cost more than the copy on small CPU counts.
    stacked = new_tensor((len(images),) + tuple(first.shape), first.dtype)
    destination = stacked.numpy()
    for index, image in enumerate(images):
        np.copyto(destination[index], image.numpy())
    return stacked


@functools.lru_cache(maxsize=None)
def numpy_supports(dtype):
    """Return whether ``Tensor.numpy()`` accepts ``dtype`` (it rejects bfloat16, for one)."""
    try:
        torch.empty(0, dtype=dtype).numpy()
    except TypeError:
        return False
    return True


class PlainSteps:
    """The collate steps with profiling off: the plain functions, without timers.

    The functions are looked up at each call, so that tests can replace them
    in this module.
    """

    def stack_images(self, batch, new_tensor):
        return stack_images(batch, new_tensor)

    def prepare_polygons(self, polygons, sample_index=0, filename=None):
        return prepare_polygons(polygons, sample_index, filename)

    def draw_targets_into(self, prepared, prob_map, thresh_map, params, path):
        return draw_targets_into(prepared, prob_map, thresh_map, params, path)

    def draw_cached(self, cache, prepared, prob_map, thresh_map, params, path):
        return cache.draw_into(prepared, prob_map, thresh_map, params, path)

    def draw_profile_targets(self, *args):
        return draw_profile_targets(*args)


PLAIN_STEPS = PlainSteps()
