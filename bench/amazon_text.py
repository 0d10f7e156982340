"""Real check: Amazon reviews (books -> kitchen by default) with the real MiniLM, per strategy.

python bench/amazon_text.py [--pairs books:kitchen] [--strategies frozen,finetune]
"""

from __future__ import annotations

import argparse
import json

from common import machine, minilm_path, require_data, run_hftl, save

RECIPES = {"frozen": "recipes/text/books-to-kitchen-frozen.yaml", "finetune": "recipes/text/books-to-kitchen.yaml"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", default="books:kitchen")
    parser.add_argument("--strategies", default="frozen,finetune")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    data = require_data("amazon-reviews")
    checkpoint = minilm_path()
    results = {"machine": machine(), "runs": []}
    for pair in args.pairs.split(","):
        source, target = pair.split(":")
        for strategy in args.strategies.split(","):
            overrides = [
                f"model.checkpoint={checkpoint}",
                f"data.source.data_files={data / (source + '.jsonl')}",
                f"data.target.data_files={data / (target + '.jsonl')}",
                f"output_dir=runs/bench/amazon/{source}-{target}/{strategy}",
                *args.overrides,
            ]
            metrics = run_hftl(RECIPES[strategy], overrides)
            print(json.dumps(metrics, indent=2), flush=True)
            results["runs"].append(
                {
                    "pair": pair,
                    "strategy": strategy,
                    "recipe": RECIPES[strategy],
                    "overrides": args.overrides,
                    "metrics": metrics,
                }
            )
    save("amazon_text", results)


if __name__ == "__main__":
    main()
