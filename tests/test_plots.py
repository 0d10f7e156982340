"""Figures: a projection picture of source vs target features and training curves, written as PNG."""

from __future__ import annotations

import numpy as np
from PIL import Image

from hftl.plots import plot_curves, plot_domains, project_2d


def test_projection_keeps_rows_and_separates_distinct_clusters():
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(0, 1, (30, 8)), rng.normal(8, 1, (30, 8))])
    points = project_2d(features)
    assert points.shape == (60, 2)
    gap = np.linalg.norm(points[:30].mean(0) - points[30:].mean(0))
    assert gap > 3 * max(points[:30].std(0).max(), points[30:].std(0).max())


def test_domain_picture_and_curves_are_png(tmp_path):
    rng = np.random.default_rng(1)
    domain = (rng.normal(size=(20, 4)), rng.integers(0, 3, 20))
    picture = plot_domains({"before": {"source": domain, "target": domain}, "after": {"source": domain}},
                           tmp_path / "features.png")  # fmt: skip
    history = [{"step": s, "train/loss": 1 / s} for s in range(1, 6)]
    curves = plot_curves({"run": history}, tmp_path / "curves.png", ("train/loss", "train/missing"))
    for path in (picture, curves):
        assert Image.open(path).format == "PNG"
    assert Image.open(picture).size[0] > Image.open(curves).size[0]  # two panels vs one curve
