"""Domain shift: proxy A-distance tells distinct domains from one domain split in two; label shift; the command."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from hftl.cli import main
from hftl.shift import label_distribution, proxy_a_distance


def test_proxy_a_distance_is_near_zero_for_one_distribution_and_near_two_for_separable_ones():
    rng = np.random.default_rng(0)
    same = proxy_a_distance(rng.normal(size=(300, 5)), rng.normal(size=(300, 5)))
    apart = proxy_a_distance(rng.normal(size=(300, 5)), rng.normal(3, 1, size=(200, 5)))
    assert same[0] < 0.3 and apart[0] > 1.8
    assert apart[2] == 200  # balanced: the smaller domain's size


def test_label_distribution_and_shift():
    shares = label_distribution(np.array([0, 0, 0, 1]), ["neg", "pos"])
    assert shares == {"neg": 0.75, "pos": 0.25}


def test_shift_command_on_images(image_recipe_file, tmp_path):
    result = CliRunner().invoke(main, ["shift", str(image_recipe_file()), "--output", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report" / "shift.json").read_text())
    assert report["proxy_a_distance"] > 1.0  # the target images are inverted: a linear classifier sees it
    assert abs(report["label_shift"]) < 0.2 and set(report["source_labels"]) == {"horizontal", "vertical"}
    assert Image.open(tmp_path / "report" / "projection.png").format == "PNG"
    assert "proxy A-distance" in result.output


def test_same_domain_has_smaller_distance_than_inverted_images(
    image_recipe_dict, image_recipe_file, image_domains, tmp_path
):
    image_recipe_dict["data"]["target"] = dict(image_recipe_dict["data"]["source"])
    same = image_recipe_file(image_recipe_dict, "same.yaml")
    result = CliRunner().invoke(main, ["shift", str(same), "--output", str(tmp_path / "same")])
    assert result.exit_code == 0, result.output
    image_recipe_dict["data"]["target"]["data_files"] = str(image_domains["target"])
    inverted = CliRunner().invoke(main, ["shift", str(image_recipe_file(image_recipe_dict)), "--output",
                                         str(tmp_path / "inverted")])  # fmt: skip
    assert inverted.exit_code == 0, inverted.output
    pad = {name: json.loads((tmp_path / name / "shift.json").read_text())["proxy_a_distance"]
           for name in ("same", "inverted")}  # fmt: skip
    assert pad["same"] < 0.6 < pad["inverted"]
