"""Decode whatever an image column holds (PIL image, array, path, ``datasets`` bytes dict) into an RGB PIL image."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError


class NotAnImageError(ValueError):
    """A value in an image column that cannot be read as an image."""


def _from_array(value: Any) -> Image.Image:
    array = np.asarray(value)
    channels_ok = array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 3, 4))
    if array.dtype.kind not in "uif" or not channels_ok:
        raise NotAnImageError(f"an array of shape {array.shape} and dtype {array.dtype} is not an image")
    if array.dtype.kind == "f" and array.max(initial=0) <= 1.0:
        array = array * 255.0  # floats in [0, 1]
    array = np.clip(array, 0, 255).astype(np.uint8)
    return Image.fromarray(array.squeeze(-1) if array.ndim == 3 and array.shape[-1] == 1 else array)


def to_rgb(value: Any) -> Image.Image:
    """An RGB image from a PIL image, an HxW(xC) array (uint8, or floats in [0, 1]), a file path or bytes."""
    try:
        if isinstance(value, Image.Image):
            image = value
        elif isinstance(value, dict) and (value.get("bytes") or value.get("path")):
            image = Image.open(io.BytesIO(value["bytes"]) if value.get("bytes") else value["path"])
        elif isinstance(value, (str, bytes)):
            image = Image.open(io.BytesIO(value) if isinstance(value, bytes) else value)
        elif isinstance(value, (list, tuple, np.ndarray)):
            image = _from_array(value)
        else:
            raise NotAnImageError(f"a {type(value).__name__} is not an image")
        return image if image.mode == "RGB" else image.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        shown = value if isinstance(value, str) else type(value).__name__
        raise NotAnImageError(f"cannot read {shown!r} as an image ({exc.__class__.__name__})") from None
