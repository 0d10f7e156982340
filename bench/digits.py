"""Real check: MNIST -> USPS with torchvision's ImageNet MobileNetV2 (converted offline), per configuration.

    python bench/digits.py --configs source-only,frozen,lora,dann,cdan

Source: the MNIST test set (10,000, ../shared/data/digits/mnist_test.npz); target: USPS train (7,291, labels
unused) with the USPS test set (2,007) as the target report. Every configuration is the recipe
recipes/vision/mnist-to-usps.yaml plus the --set overrides in PRESETS, reproducible with `hftl train`.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from common import ROOT, machine, require_data, run_hftl, save

from hftl.convert.mobilenet_v2 import convert_mobilenet_v2
from hftl.examples.digits import write_digit_parquet

RECIPE = "recipes/vision/mnist-to-usps.yaml"
WORK = "runs/bench/digits"
CHECKPOINT = "runs/mobilenet-v2"
PRESETS: dict[str, list[str]] = {
    "source-only": ["strategy={name: finetune}"],
    "frozen": ["strategy={name: frozen}", "training.learning_rate=1e-2", "training.epochs=10"],
    "lora": ["strategy={name: finetune, peft: {method: lora, r: 16, alpha: 32, "
             "target_modules: [expand_1x1.convolution, reduce_1x1.convolution]}}", "training.learning_rate=3e-3"],
    "dann": [],
    "cdan": ["strategy.method=cdan"],
    "cdan-e": ["strategy.method=cdan", "strategy.entropy_conditioning=true"],
    "mmd": ["strategy.method=mmd"],
    "source-only-adabn": ["strategy={name: finetune}", "training.batch_norm=target"],
    "dann-adabn": ["training.batch_norm=target"],
    "source-only-precisebn": ["strategy={name: finetune}", "training.batch_norm=source"],
    "target-only-precisebn": ["data.source.data_files=runs/bench/digits/data/usps-train.parquet",
                              "strategy={name: finetune}", "training.batch_norm=source"],
    "target-only": ["data.source.data_files=runs/bench/digits/data/usps-train.parquet", "strategy={name: finetune}"],
}  # fmt: skip


def prepare_data() -> None:
    """The .npz digits as parquet with an Image column, and the converted checkpoint (each written once)."""
    digits = require_data("digits")
    out = ROOT / WORK / "data"
    mnist = np.load(digits / "mnist_test.npz")
    usps = np.load(digits / "usps.npz")
    files = {
        "mnist": (mnist["images"], mnist["labels"]),
        "usps-train": (usps["train_images"], usps["train_labels"]),
        "usps-test": (usps["test_images"], usps["test_labels"]),
    }
    for name, (images, labels) in files.items():
        if not (out / f"{name}.parquet").is_file():
            write_digit_parquet(out / f"{name}.parquet", images, labels)
    if not (ROOT / CHECKPOINT / "config.json").is_file():
        convert_mobilenet_v2(ROOT / CHECKPOINT)


def markdown_table(names: list[str]) -> str:
    """The measured runs of bench/results/NAME.json files as a markdown table (for BENCHMARKS.md)."""
    rows = ["| configuration | USPS test (target) | MNIST val (source) | train time (s) | trainable params |",
            "|---|---:|---:|---:|---:|"]  # fmt: skip
    for name in names:
        for run in json.loads((ROOT / "bench" / "results" / f"{name}.json").read_text())["runs"]:
            m = run["metrics"]
            rows.append(f"| {run['config']} | {100 * m['target_test/accuracy']:.2f} | "
                        f"{100 * m['source_val/accuracy']:.2f} | {m['train/runtime_s']:.0f} | "
                        f"{m['train/trainable_params']:,} |")  # fmt: skip
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="source-only,frozen,lora,dann,cdan")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="extra overrides for every run")
    parser.add_argument("--name", default="digits", help="results file bench/results/NAME.json")
    parser.add_argument("--report", help="print the table of these comma-separated result NAMEs and exit")
    args = parser.parse_args()
    if args.report:
        print(markdown_table(args.report.split(",")))
        return
    prepare_data()
    results = {"machine": machine(), "recipe": RECIPE, "runs": []}
    for name in args.configs.split(","):
        overrides = [*PRESETS[name], f"output_dir={WORK}/{name}", *args.overrides]
        metrics = run_hftl(RECIPE, overrides)
        print(json.dumps({k: v for k, v in metrics.items() if "/" in k and "recall" not in k}, indent=2), flush=True)
        results["runs"].append({"config": name, "overrides": overrides, "metrics": metrics})
        save(args.name, results)


if __name__ == "__main__":
    main()
