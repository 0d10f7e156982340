"""Domain loading, label alignment by name, seeded stratified splits, few-shot target labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hftl.data import build_domain_data
from hftl.errors import RecipeError
from hftl.recipe import parse_recipe


def _domains(recipe_dict):
    recipe = parse_recipe(recipe_dict)
    return build_domain_data(recipe.data, recipe.eval.extra)


def test_splits_are_stratified_seeded_and_disjoint(recipe_dict):
    data = _domains(recipe_dict)
    sizes = data.sizes()
    assert sizes == {"source_train": 60, "source_val": 20, "target_train": 40, "target_test": 40}
    assert np.bincount(data.splits["source_val"]["labels"]).tolist() == [10, 10]
    assert "labels" not in data.splits["target_train"].column_names  # the unlabeled pool hides its labels
    again = _domains(recipe_dict)
    assert again.splits["target_test"]["text"] == data.splits["target_test"]["text"]
    recipe_dict["data"]["split"]["seed"] = 1
    assert _domains(recipe_dict).splits["target_test"]["text"] != data.splits["target_test"]["text"]
    assert sizes["source_train"] + sizes["source_val"] == 80


def test_few_shot_target_labels_come_out_of_the_pool(recipe_dict):
    recipe_dict["data"]["split"]["target_labeled_per_class"] = 3
    data = _domains(recipe_dict)
    assert np.bincount(data.splits["target_labeled"]["labels"]).tolist() == [3, 3]
    assert len(data.splits["target_train"]) == 34


def test_labels_align_by_name_across_domains(recipe_dict, tmp_path):
    rows = [json.loads(line) for line in Path(recipe_dict["data"]["target"]["data_files"]).read_text().splitlines()]
    named = tmp_path / "named.jsonl"
    named.write_text("".join(json.dumps({**r, "label": ["neg", "pos"][r["label"]]}) + "\n" for r in rows))
    recipe_dict["data"]["label_names"] = ["neg", "pos"]
    recipe_dict["data"]["target"]["data_files"] = str(named)
    data = _domains(recipe_dict)
    assert data.label_names == ["neg", "pos"]
    test = data.splits["target_test"]
    original = {r["text"]: r["label"] for r in rows}
    assert all(original[t] == lab for t, lab in zip(test["text"], test["labels"], strict=True))


def test_target_labels_missing_from_source_fail(recipe_dict, tmp_path):
    rows = [json.loads(line) for line in Path(recipe_dict["data"]["target"]["data_files"]).read_text().splitlines()]
    odd = tmp_path / "odd.jsonl"
    odd.write_text("".join(json.dumps({**r, "label": r["label"] + 5}) + "\n" for r in rows))
    recipe_dict["data"]["target"]["data_files"] = str(odd)
    with pytest.raises(
        RecipeError, match=r"data.target.label_column: labels \['5', '6'\] are not in the source label set"
    ):
        _domains(recipe_dict)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda r: r["data"]["source"].update(text_column="txt"),
            "data.source.text_column: column 'txt' not found; did you mean 'text'?",
        ),
        (lambda r: r["data"]["target"].update(label_column="y"), "data.target.label_column: column 'y' not found"),
        (lambda r: r["data"]["source"].update(data_files="/nope/missing.jsonl"), "data.source.data_files: not found"),
        (lambda r: r["data"]["target"].update(split="validation"), "data.target.split"),
        (lambda r: r["data"]["source"].update(max_samples=2), "too few"),
    ],
)
def test_data_errors_name_the_field(recipe_dict, edit, expected):
    edit(recipe_dict)
    with pytest.raises(RecipeError) as info:
        _domains(recipe_dict)
    assert expected in str(info.value)


def test_extra_eval_sets_are_labeled_splits(recipe_dict):
    recipe_dict["eval"] = {"extra": {"kitchen_all": dict(recipe_dict["data"]["target"])}}
    data = _domains(recipe_dict)
    assert data.eval_names == ["source_val", "target_test", "kitchen_all"]
    assert len(data.splits["kitchen_all"]) == 80


def test_named_splits_replace_fractions(recipe_dict, domain_files):
    files = {"train": str(domain_files["books"]), "validation": str(domain_files["kitchen"])}
    recipe_dict["data"]["source"].update(data_files=files, val_split="validation")
    recipe_dict["data"]["target"].update(data_files={"train": files["validation"], "test": files["train"]},
                                         test_split="test")  # fmt: skip
    sizes = _domains(recipe_dict).sizes()
    assert sizes == {"source_train": 80, "source_val": 80, "target_train": 80, "target_test": 80}
