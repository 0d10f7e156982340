"""How well do label-free scores pick the strategy? Rank finished benchmark runs by each score.

    python bench/selection.py --name selection_digits --runs "runs/bench/digits/*"
    python bench/selection.py --name selection_amazon --runs "runs/bench/amazon/books-kitchen/*/seed-*" ...

Each glob is one benchmark (one source/target pair). A run's scores come from its metrics.json when that has
every criterion; otherwise the run is re-evaluated with `hftl eval RUN --recipe RUN/recipe.yaml` (cached in
RUN/selection_eval.json). Per benchmark and criterion (hftl/criteria.py; none reads target labels) it reports
the Spearman correlation of the criterion's order with the true target accuracy over runs, and the target
accuracy lost by picking the criterion's favourite instead of the best, both per run and per strategy (runs of
one strategy, `NAME/seed-K`, averaged over seeds as `hftl compare` does).
"""

from __future__ import annotations

import argparse
import glob
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from common import ROOT, machine, save
from scipy.stats import spearmanr

from hftl.criteria import CRITERIA, SOURCE_ACCURACY

TARGET = "target_test/accuracy"


def scores(run_dir: Path) -> dict:
    """The run's metrics (target accuracy and every criterion), re-evaluated when metrics.json lacks some."""
    keys = list(dict.fromkeys([TARGET, SOURCE_ACCURACY, *(c.key for c in CRITERIA.values())]))
    for path in (run_dir / "metrics.json", run_dir / "selection_eval.json"):
        if path.is_file() and all(k in (metrics := json.loads(path.read_text())) for k in keys):
            return {k: metrics[k] for k in keys}
    out = run_dir / "selection_eval.json"
    args = [sys.executable, "-m", "hftl", "eval", str(run_dir), "--recipe", str(run_dir / "recipe.yaml"),
            "--output", str(out)]  # fmt: skip
    print("$", " ".join(args[2:]), flush=True)
    subprocess.run(args, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return {k: json.loads(out.read_text())[k] for k in keys}


def picks(candidates: dict[str, dict]) -> dict:
    """Per criterion: Spearman with target accuracy, the favourite, and the target accuracy it loses."""
    names = sorted(candidates)
    target = np.array([candidates[n][TARGET] for n in names])
    out = {"best": names[int(target.argmax())], "n": len(names)}
    source = {n: candidates[n][SOURCE_ACCURACY] for n in names}
    for name, criterion in CRITERIA.items():
        order = criterion.order({n: candidates[n][criterion.key] for n in names}, source)
        preference = [-order.index(n) for n in names]  # higher = preferred
        out[name] = {"spearman": float(spearmanr(preference, target).statistic) if len(names) > 2 else float("nan"),
                     "pick": order[0], "regret": float(target.max() - candidates[order[0]][TARGET])}  # fmt: skip
    return out


def by_strategy(runs: dict[str, dict]) -> dict[str, dict]:
    """Runs named STRATEGY/seed-K averaged over seeds (other runs are their own strategy)."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for name, run in runs.items():
        groups[name.split("/seed-")[0]].append(run)
    return {name: {k: float(np.mean([r[k] for r in group])) for k in group[0]} for name, group in groups.items()}


def summarize(runs: dict[str, dict]) -> dict:
    return {"runs": runs, "per_run": picks(runs), "per_strategy": picks(by_strategy(runs))}


def run_name(folder: Path, pattern: str) -> str:
    """``STRATEGY/seed-K`` for compare runs, the folder name otherwise."""
    return f"{folder.parent.name}/{folder.name}" if "seed-*" in pattern else folder.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", required=True, help="one glob of run folders per benchmark")
    parser.add_argument("--exclude", default="target-only,lora", help="run names that are not candidates")
    parser.add_argument("--name", default="selection")
    args = parser.parse_args()
    results = {"machine": machine(), "benchmarks": {}}
    excluded = set(args.exclude.split(","))
    for pattern in args.runs:
        folders = [Path(p) for p in sorted(glob.glob(str(ROOT / pattern))) if (Path(p) / "model").is_dir()]
        runs = {run_name(f, pattern): scores(f) for f in folders if run_name(f, pattern).split("/")[0] not in excluded}
        results["benchmarks"][pattern] = summary = summarize(runs)
        print(pattern, json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2), flush=True)
        save(args.name, results)


if __name__ == "__main__":
    main()
