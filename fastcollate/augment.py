"""A training-like dataset over real images: decode, rotate, scale and pad.

:class:`AugmentedTextImages` does per sample what a DBNet training pipeline
typically does before the collate. It decodes the image with OpenCV and scales
it so that its longest side is ``size``. Then it rotates and scales it by a
random angle and factor about the image centre and pads it to ``size x size``.
All three steps run in one ``cv2.warpAffine``. The polygons get the same affine transform. The
image is returned as a float32 (3, size, size) tensor in [0, 1].

It needs OpenCV (``pip install 'fastcollate[images]'``).
"""

import math

import numpy as np
import torch
from torch.utils.data import Dataset

from fastcollate.datasets import find_annotated_images, read_icdar_annotation


class AugmentedTextImages(Dataset):
    """Real annotated images with a random rotation and scale per sample.

    Parameters
    ----------
    folders : sequence of str or os.PathLike
        Folders of images with ICDAR 2015 / SROIE annotation files.
    size : int, default 640
        Side of the square output image, in pixels.
    length : int, optional
        Number of samples. Sample ``i`` is image ``i % len(images)``. Default:
        one per image.
    max_angle : float, default 10.0
        The rotation is drawn uniformly from [-max_angle, max_angle] degrees.
    scale_range : tuple of float, default (0.8, 1.2)
        The extra scale factor is drawn uniformly from this range.
    seed : int, default 0
        Sample ``i`` draws from ``numpy.random.default_rng((seed, i))``, so a
        sample is the same in every process and epoch.
    preload : bool, default False
        Decode every image and read every annotation once, here, and keep
        them in memory, as datasets that store decoded images do. Each sample
        then only costs the warp. Every worker process keeps its own copy.
    """

    def __init__(self, folders, size=640, length=None, max_angle=10.0, scale_range=(0.8, 1.2), seed=0,
                 preload=False):
        # A generator of folders would be empty again in the error message.
        folders = list(folders)
        self.pairs = []
        for folder in folders:
            self.pairs.extend(find_annotated_images(folder))
        if not self.pairs:
            raise ValueError(f"no annotated images found in {folders}; pass folders of images "
                             "with ICDAR 2015 or SROIE annotation files")
        if length is not None and length <= 0:
            raise ValueError(f"length must be positive or None, got {length}")
        self.size = int(size)
        self.length = len(self.pairs) if length is None else int(length)
        self.max_angle = float(max_angle)
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.seed = int(seed)
        self.decoded = None
        if preload:
            self.decoded = [self.read_pair(position) for position in range(len(self.pairs))]

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        import cv2

        if not 0 <= index < self.length:
            raise IndexError(f"sample index {index} out of range for {self.length} samples")
        position = index % len(self.pairs)
        image_path = self.pairs[position][0]
        if self.decoded is not None:
            image, words = self.decoded[position]
        else:
            image, words = self.read_pair(position)

        rng = np.random.default_rng((self.seed, index))
        angle = rng.uniform(-self.max_angle, self.max_angle)
        scale = rng.uniform(*self.scale_range)
        matrix = self.affine_matrix(image.shape[:2], angle, scale)

        warped = cv2.warpAffine(image, matrix[:2], (self.size, self.size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        tensor = torch.from_numpy(warped).permute(2, 0, 1).float().div_(255.0)

        polygons = []
        for word in words:
            points = np.hstack([word.polygon, np.ones((len(word.polygon), 1))]) @ matrix[:2].T
            polygons.append(points.astype(np.float32).reshape(1, -1, 2))
        return {
            "image": tensor,
            "polygons": polygons,
            "image_filename": image_path.name,
            "inverse_matrix": np.linalg.inv(matrix),
            "ignore_tags": [word.ignore for word in words],
        }

    def read_pair(self, position):
        """Decode image ``position`` and read its annotation; return ``(image, words)``."""
        import cv2

        image_path, annotation_path = self.pairs[position]
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{image_path.name!r}: OpenCV failed to decode {image_path}; "
                             "check that the file is a complete image")
        return image, read_icdar_annotation(annotation_path)

    def affine_matrix(self, image_size, angle, scale):
        """Return the 3 x 3 matrix from source pixels to output pixels.

        The image is first scaled so that its longest side is ``size`` and
        placed at the top left, then rotated by ``angle`` degrees and scaled
        by ``scale`` about the centre of that scaled image.
        """
        height, width = image_size
        fit = self.size / max(height, width)
        centre_x, centre_y = width * fit / 2, height * fit / 2
        radians = math.radians(angle)
        cos, sin = scale * math.cos(radians), scale * math.sin(radians)
        rotate = np.array([
            [cos, sin, (1 - cos) * centre_x - sin * centre_y],
            [-sin, cos, sin * centre_x + (1 - cos) * centre_y],
            [0.0, 0.0, 1.0],
        ])
        return rotate @ np.diag([fit, fit, 1.0])


def single_thread_worker_init(worker_id):
    """DataLoader ``worker_init_fn`` that keeps OpenCV to one thread per worker.

    Torch already limits its own intra-op threads to one per worker. OpenCV
    does not, so with N workers on N cores every ``warpAffine`` would start
    more threads than there are cores.
    """
    import cv2

    cv2.setNumThreads(1)
