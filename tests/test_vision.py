"""Image classification: every strategy on tiny ViT / MobileNetV2, image data formats, augmentation, export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from hftl.errors import RecipeError
from hftl.image_augment import augment_image, random_resized_crop
from hftl.images import NotAnImageError, to_rgb
from hftl.recipe import ImageAugmentSection, parse_recipe
from hftl.run import train
from tests.helpers import one_training_step, prepared_run
from tests.vision_fixtures import bars_domain, write_imagefolder, write_json_arrays, write_json_paths

VARIANTS = {
    "frozen": {"name": "frozen"},
    "finetune": {"name": "finetune", "layer_decay": 0.8, "head_lr_multiplier": 5},
    "surgery": {"name": "surgery", "reinit_layers": 1, "trainable": ["classifier", r"\.1\."]},
    "finetune-lora": {"name": "finetune", "peft": {"method": "lora", "r": 4, "target_modules": ["q_proj", "v_proj"]}},
    **{f"adversarial-{m}": {"name": "adversarial", "method": m} for m in ("dann", "cdan", "mmd", "coral")},
}
#: LoRA on a CNN: the 1x1 expansion convolutions of MobileNetV2's inverted residual blocks.
MOBILENET_LORA = {"name": "finetune", "peft": {"method": "lora", "r": 4, "target_modules": ["expand_1x1.convolution"]}}


@pytest.mark.parametrize("arch", ["vit", "mobilenet"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_strategy_trains_a_vision_model(image_recipe_dict, tiny_vision, arch, variant):
    image_recipe_dict["model"]["checkpoint"] = str(tiny_vision[arch])
    mobilenet_lora = arch == "mobilenet" and variant == "finetune-lora"
    image_recipe_dict["strategy"] = MOBILENET_LORA if mobilenet_lora else VARIANTS[variant]
    _, prepared = prepared_run(image_recipe_dict)
    out, grads, changed = one_training_step(prepared.strategy, prepared.ctx)
    assert torch.isfinite(out["loss"])
    frozen = {n for n, p in prepared.strategy.named_parameters() if not p.requires_grad}
    assert changed and not changed & frozen
    assert all(grads[n] is None for n in frozen)
    if variant == "frozen":
        assert {n.rsplit(".", 1)[0] for n in changed} == {"model.classifier"}
    if "lora" in variant:
        assert any("lora_" in n for n in changed)


def test_frozen_caches_the_head_input_of_a_cnn(image_recipe_dict, tiny_vision):
    image_recipe_dict["model"]["checkpoint"] = str(tiny_vision["mobilenet"])
    image_recipe_dict["strategy"] = {"name": "frozen"}
    _, prepared = prepared_run(image_recipe_dict)
    strategy, ctx = prepared.strategy, prepared.ctx
    cached = strategy.train_data(ctx).source.features
    model = strategy.model.eval()
    rows = [ctx.data.splits["source_train"][i] for i in range(4)]
    with torch.no_grad():
        pooled = model.mobilenet_v2(**{k: v for k, v in ctx.collate(rows).items() if k != "labels"}).pooler_output
    torch.testing.assert_close(cached[:4], pooled.flatten(1))


EXPORTED = [
    ("mobilenet", VARIANTS["frozen"]),
    ("vit", VARIANTS["finetune-lora"]),
    ("mobilenet", VARIANTS["adversarial-dann"]),
]


@pytest.mark.parametrize(("arch", "strategy"), EXPORTED)
def test_export_loads_in_the_image_classification_pipeline(image_recipe_dict, tiny_vision, arch, strategy, tmp_path):
    from transformers import pipeline

    image_recipe_dict["model"]["checkpoint"] = str(tiny_vision[arch])
    image_recipe_dict["strategy"] = strategy
    image_recipe_dict["training"]["epochs"] = 1
    if "peft" in strategy:
        image_recipe_dict["export"] = {"merge": True}
    recipe = parse_recipe(image_recipe_dict)
    metrics = train(recipe)
    model_dir = tmp_path / "run" / "model"
    assert (model_dir / "preprocessor_config.json").is_file()
    card = (model_dir / "README.md").read_text()
    assert "pipeline_tag: image-classification" in card and 'pipeline("image-classification"' in card

    from datasets import load_dataset

    test = load_dataset("parquet", data_files=image_recipe_dict["data"]["target"]["data_files"], split="train")
    classify = pipeline("image-classification", model=str(model_dir), device="cpu")
    predictions = classify([row["image"] for row in test], top_k=1)
    assert {p[0]["label"] for p in predictions} <= {"horizontal", "vertical"}
    # the exported checkpoint scores like hftl's own evaluation on the same target test rows
    from hftl.run import evaluate_checkpoint

    again = evaluate_checkpoint(recipe, str(tmp_path / "run"))
    assert again["target_test/accuracy"] == pytest.approx(metrics["target_test/accuracy"], abs=1e-6)


@pytest.mark.parametrize("fmt", ["imagefolder", "json-paths", "json-arrays"])
def test_image_data_formats(image_recipe_dict, tmp_path, fmt):
    images, labels = bars_domain(24, seed=3, inverted=True)
    if fmt == "imagefolder":
        spec = {"path": "imagefolder", "data_dir": str(write_imagefolder(tmp_path / "folder", images, labels)),
                "image_column": "image", "label_column": "label"}  # fmt: skip
        names = ["class0", "class1"]
    elif fmt == "json-paths":
        path = write_json_paths(tmp_path / "paths.jsonl", images, labels)
        spec = {"path": "json", "data_files": str(path), "image_column": "file", "label_column": "digit"}
        names = ["horizontal", "vertical"]
    else:
        path = write_json_arrays(tmp_path / "arrays.jsonl", images, labels)
        spec = {"path": "json", "data_files": str(path), "image_column": "pixels"}
        names = ["horizontal", "vertical"]
    image_recipe_dict["data"]["target"] = spec
    if fmt == "imagefolder":  # folder names are the labels: the source must use them too
        image_recipe_dict["data"]["source"] = {**spec, "data_dir": spec["data_dir"]}
        image_recipe_dict["data"].pop("label_names")
    _, prepared = prepared_run(image_recipe_dict)
    data, ctx = prepared.ctx.data, prepared.ctx
    assert data.label_names == names
    batch = ctx.collate([data.splits["target_test"][i] for i in range(3)])
    assert batch["pixel_values"].shape == (3, 3, 16, 16)
    assert len(data.splits["target_train"]) + len(data.splits["target_test"]) == 24
    assert sorted(set(data.splits["target_test"]["labels"])) == [0, 1]


def test_non_image_column_is_a_recipe_error(image_recipe_dict, tmp_path):
    path = tmp_path / "text.jsonl"
    path.write_text("".join(json.dumps({"image": "not an image", "label": i % 2}) + "\n" for i in range(8)))
    image_recipe_dict["data"]["target"] = {"path": "json", "data_files": str(path), "image_column": "image"}
    with pytest.raises(RecipeError, match=r"data\.target\.image_column: column 'image' row 0 is not an image"):
        prepared_run(image_recipe_dict)


def test_source_and_target_must_both_be_images(image_recipe_dict):
    image_recipe_dict["data"]["target"].pop("image_column")
    with pytest.raises(RecipeError, match=r"^data\.target\.image_column: source and target must both be images"):
        parse_recipe(image_recipe_dict)


def test_text_only_options_are_refused_for_images(image_recipe_dict):
    image_recipe_dict["augment"] = {"embedding_perturbation": {"method": "fgsm"}}
    with pytest.raises(RecipeError, match=r"^augment\.embedding_perturbation: .* needs text data"):
        parse_recipe(image_recipe_dict)


def test_text_checkpoint_for_image_data_is_a_recipe_error(image_recipe_dict, tiny_bert):
    image_recipe_dict["model"]["checkpoint"] = str(tiny_bert)
    with pytest.raises(RecipeError, match="is a bert model, which has no image-classification head"):
        prepared_run(image_recipe_dict)


def test_image_size_overrides_the_processor(image_recipe_dict, tiny_vision):
    image_recipe_dict["model"]["checkpoint"] = str(tiny_vision["mobilenet"])
    image_recipe_dict["training"]["image_size"] = 24
    _, prepared = prepared_run(image_recipe_dict)
    rows = [prepared.ctx.data.splits["source_train"][i] for i in range(2)]
    assert prepared.ctx.collate(rows)["pixel_values"].shape == (2, 3, 24, 24)


def test_grayscale_and_arrays_become_rgb():
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8)
    assert to_rgb(gray).mode == "RGB" and to_rgb(gray).size == (8, 8)
    assert np.asarray(to_rgb(gray.astype(np.float32) / 255))[..., 0].max() == 63
    assert to_rgb(Image.fromarray(gray)).mode == "RGB"
    with pytest.raises(NotAnImageError):
        to_rgb("no/such/file.png")
    with pytest.raises(NotAnImageError):
        to_rgb(np.zeros((2, 3, 4, 5)))


def test_augmentation_keeps_size_follows_the_seed_and_never_flips_by_default():
    image = Image.fromarray(np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1))).convert("RGB")
    torch.manual_seed(0)
    first = np.asarray(random_resized_crop(image, (0.5, 0.6)))
    torch.manual_seed(0)
    assert np.array_equal(first, np.asarray(random_resized_crop(image, (0.5, 0.6))))
    assert first.shape == (32, 32, 3) and not np.array_equal(first, np.asarray(image))
    defaults = ImageAugmentSection(random_resized_crop=None)
    assert not defaults.horizontal_flip
    assert np.array_equal(np.asarray(augment_image(image, defaults)), np.asarray(image))
    flips = ImageAugmentSection(random_resized_crop=None, horizontal_flip=True)
    torch.manual_seed(1)
    outputs = {np.asarray(augment_image(image, flips))[0, 0, 0] for _ in range(20)}
    assert outputs == {0, 248}  # left-right gradient: both orientations occur


def test_training_batches_are_augmented_and_evaluation_batches_are_not(image_recipe_dict):
    image_recipe_dict["augment"] = {"image": {"random_resized_crop": [0.3, 0.5], "rotation": 20}}
    _, prepared = prepared_run(image_recipe_dict)
    ctx = prepared.ctx
    rows = [ctx.data.splits["source_train"][i] for i in range(4)]
    assert torch.equal(ctx.collate(rows)["pixel_values"], ctx.collate(rows)["pixel_values"])
    assert not torch.equal(ctx.train_collate(rows)["pixel_values"], ctx.collate(rows)["pixel_values"])


def test_bad_crop_range_names_the_field(image_recipe_dict):
    image_recipe_dict["augment"] = {"image": {"random_resized_crop": [0.9, 0.2]}}
    with pytest.raises(RecipeError, match=r"^augment\.image\.random_resized_crop: need 0 < low <= high <= 1"):
        parse_recipe(image_recipe_dict)


def test_truncation_works_on_a_vit_and_is_refused_for_a_cnn(image_recipe_dict, tiny_vision):
    image_recipe_dict["strategy"] = {"name": "surgery", "keep_layers": 1}
    _, prepared = prepared_run(image_recipe_dict)
    assert prepared.strategy.model.config.num_hidden_layers == 1
    assert torch.isfinite(one_training_step(prepared.strategy, prepared.ctx)[0]["loss"])
    image_recipe_dict["model"]["checkpoint"] = str(tiny_vision["mobilenet"])
    with pytest.raises(RecipeError, match=r"strategy\.keep_layers: MobileNetV2ForImageClassification has no uniform"):
        prepared_run(image_recipe_dict)


@pytest.mark.parametrize("arch", ["vit", "mobilenet"])
def test_vision_adapter_export_reloads_for_evaluation(image_recipe_dict, tiny_vision, tmp_path, arch):
    """The adapter folder alone reproduces the run, batch-norm statistics included (MobileNetV2)."""
    from hftl.run import evaluate_checkpoint

    image_recipe_dict["model"]["checkpoint"] = str(tiny_vision[arch])
    image_recipe_dict["strategy"] = MOBILENET_LORA if arch == "mobilenet" else VARIANTS["finetune-lora"]
    image_recipe_dict["training"]["epochs"] = 1
    recipe = parse_recipe(image_recipe_dict)
    metrics = train(recipe)
    assert (tmp_path / "run" / "model" / "adapter_config.json").is_file()
    again = evaluate_checkpoint(recipe, str(tmp_path / "run"))
    scores = ("target_test/accuracy", "source_val/accuracy", "target_train/snd")
    assert {k: again[k] for k in scores} == pytest.approx({k: metrics[k] for k in scores}, rel=1e-5)
