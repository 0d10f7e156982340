"""Training-time image augmentation on PIL images, drawing from torch's RNG (so resume restores the stream)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from PIL import Image

if TYPE_CHECKING:
    from hftl.recipe import ImageAugmentSection


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * torch.rand(()).item()


def random_resized_crop(
    image: Image.Image, scale: tuple[float, float], ratio: tuple[float, float] = (3 / 4, 4 / 3)
) -> Image.Image:
    """A random crop covering ``scale`` of the area at an aspect ratio in ``ratio``, resized to the input size."""
    width, height = image.size
    area = width * height
    for _ in range(10):
        target = area * _uniform(*scale)
        aspect = math.exp(_uniform(math.log(ratio[0]), math.log(ratio[1])))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left = int(torch.randint(0, width - w + 1, ()).item())
            top = int(torch.randint(0, height - h + 1, ()).item())
            return image.resize((width, height), Image.BILINEAR, box=(left, top, left + w, top + h))
    return image  # no crop fits (extreme ratio): keep the whole image


def augment_image(image: Image.Image, options: ImageAugmentSection) -> Image.Image:
    """Apply the recipe's crop, flip and rotation to one RGB image."""
    if options.random_resized_crop is not None:
        image = random_resized_crop(image, options.random_resized_crop)
    if options.horizontal_flip and torch.rand(()).item() < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    if options.rotation:
        image = image.rotate(_uniform(-options.rotation, options.rotation), Image.BILINEAR)
    return image
