"""How well does the label-free score pick the strategy? Re-score finished benchmark runs and rank them.

    python bench/selection.py --runs "runs/bench/digits/*" "runs/bench/amazon/books-kitchen/*" \\
        "runs/bench/amazon/kitchen-books/*"

Each glob is one benchmark (one source/target pair): every finished run in it is re-evaluated with
`hftl eval RUN --recipe RUN/recipe.yaml` (target test accuracy, source validation accuracy, and SND on the
unlabeled target pool). Per benchmark it reports the Spearman correlation of SND (and, as the usual label-free
baseline, source validation accuracy) with the true target accuracy, and the target accuracy lost by picking the
run each criterion prefers instead of the best one.
"""

from __future__ import annotations

import argparse
import glob
import json
import subprocess
import sys
from pathlib import Path

from common import ROOT, machine, save
from scipy.stats import spearmanr

CRITERIA = {"snd": "target_train/snd", "source_val": "source_val/accuracy"}


def rescore(run_dir: Path) -> dict:
    """metrics of an exported run, from `hftl eval` (cached in RUN/selection_eval.json)."""
    out = run_dir / "selection_eval.json"
    if not out.is_file():
        args = [sys.executable, "-m", "hftl", "eval", str(run_dir), "--recipe", str(run_dir / "recipe.yaml"),
                "--output", str(out)]  # fmt: skip
        print("$", " ".join(args[2:]), flush=True)
        subprocess.run(args, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def summarize(runs: dict[str, dict]) -> dict:
    """Rank correlation with target accuracy and the regret of each criterion's pick."""
    names = sorted(runs)
    target = [runs[n]["target_test/accuracy"] for n in names]
    best = max(target)
    summary = {"runs": {n: {k: runs[n][k] for k in ("target_test/accuracy", *CRITERIA.values())} for n in names}}
    for criterion, key in CRITERIA.items():
        scores = [runs[n][key] for n in names]
        pick = names[max(range(len(names)), key=scores.__getitem__)]
        summary[criterion] = {"spearman": float(spearmanr(scores, target).statistic), "pick": pick,
                              "regret": best - runs[pick]["target_test/accuracy"]}  # fmt: skip
    summary["best"] = names[target.index(best)]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", required=True, help="one glob of run folders per benchmark")
    parser.add_argument("--exclude", default="target-only", help="run names that are not candidates (upper bounds)")
    parser.add_argument("--name", default="selection")
    args = parser.parse_args()
    results = {"machine": machine(), "benchmarks": {}}
    for pattern in args.runs:
        excluded = set(args.exclude.split(","))
        folders = [Path(p) for p in sorted(glob.glob(str(ROOT / pattern)))
                   if (Path(p) / "model").is_dir() and Path(p).name not in excluded]  # fmt: skip
        runs = {folder.name: rescore(folder) for folder in folders}
        results["benchmarks"][pattern] = summarize(runs)
        print(json.dumps({k: v for k, v in results["benchmarks"][pattern].items() if k != "runs"}, indent=2))
        save(args.name, results)


if __name__ == "__main__":
    main()
