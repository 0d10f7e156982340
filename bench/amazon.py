"""Real check: Amazon reviews, all 6 ordered pairs of books/electronics/kitchen, with the real MiniLM.

    python bench/amazon.py                       # every pair and the in-domain bounds, 3 seeds
    python bench/amazon.py --part bounds         # only the in-domain upper bounds
    python bench/amazon.py --pairs books:kitchen --strategies finetune,dann --seeds 1 --name amazon_try

Each pair is one `hftl compare recipes/text/books-to-kitchen.yaml --strategies ... --seeds N` (the command is
printed), so every number can be reproduced by a user. The in-domain upper bound of a target domain trains on
that domain's labeled pool (the same rows hftl keeps as the unlabeled target pool, with their labels) and is
tested on the same target test rows as the transfer runs. Results: bench/results/amazon.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys

from common import ROOT, machine, minilm_path, require_data, save

from hftl.data import load_domain, stratified_split
from hftl.labels import encode_labels, source_label_names
from hftl.recipe import load_recipe

RECIPE = "recipes/text/books-to-kitchen.yaml"
WORK = ROOT / "runs" / "bench" / "amazon"
DOMAINS = ("books", "electronics", "kitchen")
PAIRS = [f"{s}:{t}" for s, t in itertools.permutations(DOMAINS, 2)]


def run_compare(strategies: str, seeds: int, out_dir: str, overrides: list[str]) -> dict:
    """``hftl compare`` as a user would run it; returns its leaderboard.json plus every run's metrics."""
    args = [sys.executable, "-m", "hftl", "compare", RECIPE, "--strategies", strategies, "--seeds", str(seeds),
            "--output", out_dir]  # fmt: skip
    for item in overrides:
        args += ["--set", item]
    print("$ hftl", " ".join(args[3:]), flush=True)
    subprocess.run(args, check=True, cwd=ROOT)
    board = json.loads((ROOT / out_dir / "leaderboard.json").read_text())
    runs = {preset: [json.loads((ROOT / out_dir / preset / f"seed-{seed}" / "metrics.json").read_text())
                     for seed in range(seeds)] for preset in strategies.split(",")}  # fmt: skip
    return {"command": "hftl " + " ".join(args[3:]), **board, "runs": runs}


def labeled_pool(domain: str, data_dir) -> str:
    """The target split's pool of ``domain`` with its labels, as jsonl (the in-domain training data)."""
    path = WORK / "data" / f"{domain}-pool.jsonl"
    if not path.is_file():
        data = load_recipe(str(ROOT / RECIPE), [f"data.target.data_files={data_dir / (domain + '.jsonl')}"]).data
        raw = load_domain(data.target, "data.target")
        field = "data.target.label_column"
        names = source_label_names(raw, data.target.label_column, data.label_names, field)
        encoded = encode_labels(raw, data.target.label_column, names, data.label_names, field)
        encoded = encoded.add_column("row", list(range(len(encoded))))
        split = data.split
        pool, _ = stratified_split(encoded, split.target_test_fraction, split.seed, "data.split.target_test_fraction")
        path.parent.mkdir(parents=True, exist_ok=True)
        raw.select(pool["row"]).to_json(path)
    return str(path.relative_to(ROOT))


def record(name: str, part: str, key: str, value: dict, args: argparse.Namespace) -> None:
    """Add one result to bench/results/NAME.json, re-read first (the two parts may run side by side)."""
    path = ROOT / "bench" / "results" / f"{name}.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    results.update({"machine": machine(), "recipe": RECIPE, "epochs": args.epochs, "precision": args.precision})
    results.setdefault(part, {})[key] = value
    save(name, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default=",".join(PAIRS))
    parser.add_argument("--strategies", default="frozen,finetune,dann")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="transfer runs; the in-domain bound trains 2x as "
                        "many epochs on its half-size data (the same number of steps)")  # fmt: skip
    parser.add_argument("--precision", default="bf16", help="training.mixed_precision (bf16: 1.5x faster on CPUs "
                        "with AVX-512 BF16)")  # fmt: skip
    parser.add_argument("--part", choices=["all", "pairs", "bounds"], default="all")
    parser.add_argument("--name", default="amazon", help="results file bench/results/NAME.json")
    args = parser.parse_args()
    data = require_data("amazon-reviews")
    common = [f"model.checkpoint={minilm_path()}", f"training.mixed_precision={args.precision}"]
    pairs = args.pairs.split(",") if args.part != "bounds" else []
    targets = sorted({p.split(":")[1] for p in args.pairs.split(",")}) if args.part != "pairs" else []
    for target in targets:
        overrides = [*common, f"training.epochs={2 * args.epochs}",
                     f"data.source.data_files={labeled_pool(target, data)}",
                     f"data.target.data_files={data / (target + '.jsonl')}"]  # fmt: skip
        out = str(WORK.relative_to(ROOT) / f"in-domain-{target}")
        record(args.name, "in_domain", target, run_compare("finetune", args.seeds, out, overrides), args)
    for pair in pairs:
        source, target = pair.split(":")
        overrides = [*common, f"training.epochs={args.epochs}", f"data.source.data_files={data / (source + '.jsonl')}",
                     f"data.target.data_files={data / (target + '.jsonl')}"]  # fmt: skip
        out = str(WORK.relative_to(ROOT) / f"{source}-{target}")
        record(args.name, "pairs", pair, run_compare(args.strategies, args.seeds, out, overrides), args)


if __name__ == "__main__":
    main()
