"""Amazon reviews with the real MiniLM: one run per transfer configuration (one seed), for studying settings.

    python bench/amazon_configs.py --pairs books:kitchen,kitchen:books --configs finetune,lora,dann,frozen-mmd

bench/amazon.py is the full benchmark (6 pairs, 3 seeds, through `hftl compare`); this script covers the
configurations that are not presets (frozen features at other layers, the textbook DANN setting, LoRA on BERT).

Every configuration is the recipe recipes/text/books-to-kitchen.yaml plus the --set overrides in PRESETS,
so each run can be reproduced with `hftl train` and the printed command.
"""

from __future__ import annotations

import argparse
import json

from common import machine, minilm_path, require_data, run_hftl, save

RECIPE = "recipes/text/books-to-kitchen.yaml"
FROZEN = ["training.epochs=10", "training.learning_rate=1e-3", "training.batch_size=32"]
PRESETS: dict[str, list[str]] = {
    "finetune": ["strategy.name=finetune"],
    "lora": ["strategy.name=finetune", "strategy.peft.method=lora", "strategy.peft.r=8", "strategy.peft.alpha=16",
             "strategy.peft.target_modules=[query,value]", "training.learning_rate=5e-4"],
    "dann-w1": ["strategy.name=adversarial", "strategy.method=dann", "strategy.head_lr_multiplier=10"],
    "dann": ["strategy.name=adversarial", "strategy.method=dann", "strategy.head_lr_multiplier=10",
             "strategy.weight=0.1", "strategy.align_start=0.3"],
    "frozen-probe": ["strategy.name=frozen", "training.epochs=10", "training.learning_rate=1e-2"],
    "frozen": ["strategy.name=frozen", "strategy.features=pooler_input", *FROZEN],
    "frozen-dann": ["strategy.name=adversarial", "strategy.encoder=frozen", "strategy.method=dann", *FROZEN],
    "frozen-mmd": ["strategy.name=adversarial", "strategy.encoder=frozen", "strategy.method=mmd", *FROZEN],
    "frozen-coral": ["strategy.name=adversarial", "strategy.encoder=frozen", "strategy.method=coral", *FROZEN],
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default="books:kitchen")
    parser.add_argument("--configs", default="frozen,finetune")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="extra overrides for every run")
    parser.add_argument("--name", default="amazon_configs", help="results file bench/results/NAME.json")
    args = parser.parse_args()
    data = require_data("amazon-reviews")
    checkpoint = minilm_path()
    results = {"machine": machine(), "recipe": RECIPE, "runs": []}
    for pair in args.pairs.split(","):
        source, target = pair.split(":")
        for name in args.configs.split(","):
            overrides = [
                f"model.checkpoint={checkpoint}",
                f"data.source.data_files={data / (source + '.jsonl')}",
                f"data.target.data_files={data / (target + '.jsonl')}",
                f"output_dir=runs/bench/amazon-configs/{source}-{target}/{name}",
                *PRESETS[name],
                *args.overrides,
            ]
            metrics = run_hftl(RECIPE, overrides)
            print(json.dumps(metrics, indent=2), flush=True)
            results["runs"].append({"pair": pair, "config": name, "overrides": PRESETS[name] + args.overrides,
                                    "metrics": metrics})  # fmt: skip
            save(args.name, results)


if __name__ == "__main__":
    main()
