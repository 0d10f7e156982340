"""``hftl compare``: one recipe, several strategy presets x seeds, a leaderboard and a label-free recommendation.

A preset is a recipe fragment (YAML) merged over the recipe: built-in ones live in ``hftl/presets/``; a path to
a user's own fragment works the same, and ``extends: NAME`` starts a fragment from another preset. Each run is a
normal ``hftl train`` in its own process (so its peak memory is its own); all runs share the feature cache and
the datasets cache. Finished runs are reused when the command is repeated.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hftl.criteria import CRITERIA, DEFAULT_CRITERION
from hftl.errors import RecipeError, TrainingError, did_you_mean
from hftl.recipe import parse_recipe

PRESETS_DIR = Path(__file__).parent / "presets"


def builtin_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def load_preset(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """A preset fragment by built-in name or file path, with ``extends`` resolved."""
    path = Path(name)
    if not path.is_file():
        path = PRESETS_DIR / f"{name}.yaml"
        if not path.is_file():
            hint = did_you_mean(name, builtin_presets())
            raise RecipeError("--strategies", f"unknown preset '{name}'{hint} (built-in: {', '.join(builtin_presets())}"
                              ", or a YAML file)")  # fmt: skip
    fragment = yaml.safe_load(path.read_text()) or {}
    if not isinstance(fragment, dict):
        raise RecipeError("--strategies", f"preset '{name}' must be a YAML mapping of recipe sections")
    parent = fragment.pop("extends", None)
    if parent is None:
        return fragment
    if parent in seen:
        raise RecipeError("--strategies", f"preset '{name}' extends itself through '{parent}'")
    return merge(load_preset(parent, (*seen, name)), fragment)


def merge(base: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    """``fragment`` over ``base``: sections merge key by key, but ``strategy`` is replaced as a whole."""
    out = copy.deepcopy(base)
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "strategy":
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def preset_label(name: str) -> str:
    return Path(name).stem if name.endswith((".yaml", ".yml")) else name


@dataclass
class RunResult:
    preset: str
    seed: int
    metrics: dict[str, float]
    peak_memory_mb: float | None


def run_one(raw: dict[str, Any], out_dir: Path) -> tuple[dict[str, float], float | None]:
    """``hftl train`` in a child process (reused when it already finished); returns (metrics, peak RSS in MB)."""
    recipe_text = yaml.safe_dump(raw, sort_keys=False)
    recipe_path, metrics_path = out_dir / "compare-recipe.yaml", out_dir / "metrics.json"
    memory_path = out_dir / "peak_memory_mb.json"
    if metrics_path.is_file() and recipe_path.is_file() and recipe_path.read_text() == recipe_text:
        memory = json.loads(memory_path.read_text()) if memory_path.is_file() else None
        return json.loads(metrics_path.read_text()), memory
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    run_recipe = out_dir.parent / f"{out_dir.name}.yaml"
    run_recipe.write_text(recipe_text)
    args = [sys.executable, "-m", "hftl", "train", str(run_recipe), "--overwrite"]
    process = subprocess.Popen(args, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise TrainingError(f"compare: the run in {out_dir} failed (exit {os.waitstatus_to_exitcode(status)})")
    memory = usage.ru_maxrss / 1024  # kilobytes on Linux
    recipe_path.write_text(recipe_text)
    memory_path.write_text(json.dumps(memory))
    return json.loads(metrics_path.read_text()), memory


def leaderboard(results: list[RunResult], select: str = DEFAULT_CRITERION) -> list[dict[str, Any]]:
    """One row per preset: mean and spread over seeds, sorted by the label-free criterion ``select`` (best first)."""
    rows = []
    for preset in dict.fromkeys(r.preset for r in results):
        runs = [r for r in results if r.preset == preset]

        def stat(key: str, runs=runs) -> tuple[float, float]:
            values = [r.metrics[key] for r in runs if key in r.metrics]
            return (float(np.mean(values)), float(np.std(values))) if values else (float("nan"), float("nan"))

        memory = [r.peak_memory_mb for r in runs if r.peak_memory_mb is not None]
        rows.append({
            "preset": preset, "seeds": len(runs),
            "target_accuracy": stat("target_test/accuracy"), "target_f1": stat("target_test/f1"),
            **{c.column: stat(c.key) for c in CRITERIA.values()},
            "train_seconds": stat("train/runtime_s")[0],
            "trainable_params": int(runs[0].metrics["train/trainable_params"]),
            "peak_memory_mb": float(np.max(memory)) if memory else None,
        })  # fmt: skip
    criterion = CRITERIA[select]
    by_name = {r["preset"]: r for r in rows}
    order = criterion.order({n: r[criterion.column][0] for n, r in by_name.items()},
                            {n: r["source_accuracy"][0] for n, r in by_name.items()})  # fmt: skip
    return [by_name[n] for n in order]


def markdown(rows: list[dict[str, Any]], shift: dict | None, select: str = DEFAULT_CRITERION) -> str:
    """The leaderboard table, the shift line and the recommendation by ``select``."""
    lines = []
    if shift:
        lines.append(f"Domain shift: proxy A-distance {shift['proxy_a_distance']:.3f}, label shift (TV) "
                     f"{shift['label_shift']:.3f}.\n")  # fmt: skip
    lines += ["| preset | seeds | DEV risk | SND | source acc | target acc | target F1 | train s | "
              "trainable params | peak memory MB |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip

    def pm(pair: tuple[float, float], scale: float = 100.0, digits: int = 2) -> str:
        return f"{scale * pair[0]:.{digits}f} ± {scale * pair[1]:.{digits}f}"

    for r in rows:
        memory = f"{r['peak_memory_mb']:.0f}" if r["peak_memory_mb"] else "-"
        lines.append(f"| {r['preset']} | {r['seeds']} | {pm(r['dev_risk'], 1, 4)} | {pm(r['snd'], 1, 4)} | "
                     f"{pm(r['source_accuracy'])} | {pm(r['target_accuracy'])} | {pm(r['target_f1'])} | "
                     f"{r['train_seconds']:.0f} | {r['trainable_params']:,} | {memory} |")  # fmt: skip
    lines.append("")
    lines.append(recommendation(rows, select))
    return "\n".join(lines)


def recommendation(rows: list[dict[str, Any]], select: str = DEFAULT_CRITERION) -> str:
    criterion = CRITERIA[select]
    best = rows[0]
    if np.isnan(best[criterion.column][0]):
        return f"No recommendation: the runs have no {criterion.key} (eval.label_free is off)."
    return (f"Recommended: **{best['preset']}** ({criterion.title}; chosen without target labels; the target "
            "accuracy columns are for reference).")  # fmt: skip


def plot(rows: list[dict[str, Any]], path: Path) -> Path:
    """Bar chart of target accuracy (mean ± std over seeds) per preset, in leaderboard order."""
    from hftl.plots import plt

    fig, ax = plt.subplots(figsize=(1.2 * len(rows) + 3, 4))
    names = [r["preset"] for r in rows]
    means = [100 * r["target_accuracy"][0] for r in rows]
    spreads = [100 * r["target_accuracy"][1] for r in rows]
    ax.bar(names, means, yerr=spreads, capsize=4, color=["tab:green"] + ["tab:blue"] * (len(rows) - 1))
    ax.set_ylabel("target test accuracy (%)")
    ax.set_title("presets, label-free choice first (green)")
    ax.set_ylim(max(0, min(means) - 10), min(100, max(means) + 5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def compare(
    recipe_path: str,
    presets: list[str],
    seeds: int,
    out_dir: Path,
    overrides: list[str],
    select: str = DEFAULT_CRITERION,
) -> str:
    """Run every preset x seed, measure the shift, write leaderboard.{md,json,png}; return the markdown."""
    from hftl.recipe import apply_overrides, load_recipe
    from hftl.shift import measure_shift

    base = load_recipe(recipe_path, overrides)
    raw = apply_overrides(yaml.safe_load(Path(recipe_path).read_text()), overrides)
    fragments = {preset_label(p): load_preset(p) for p in presets}
    planned = {}
    for label, fragment in fragments.items():
        for seed in range(seeds):
            run = merge(raw, fragment)
            run.setdefault("training", {})["seed"] = base.training.seed + seed
            run["output_dir"] = str(out_dir / label / f"seed-{seed}")
            parse_recipe(copy.deepcopy(run))  # every planned run is valid before the first one starts
            planned[(label, seed)] = run
    out_dir.mkdir(parents=True, exist_ok=True)
    shift = measure_shift(base, out_dir / "shift")
    results = []
    for (label, seed), run in planned.items():
        start = time.perf_counter()
        metrics, memory = run_one(run, Path(run["output_dir"]))
        print(f"{label} seed {seed}: target {100 * metrics['target_test/accuracy']:.2f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
        results.append(RunResult(label, seed, metrics, memory))
    rows = leaderboard(results, select)
    shift_dict = {"proxy_a_distance": shift.proxy_a_distance, "label_shift": shift.label_shift}
    text = markdown(rows, shift_dict, select)
    (out_dir / "leaderboard.md").write_text(text + "\n")
    board = {"shift": shift_dict, "selection": select, "rows": rows}
    (out_dir / "leaderboard.json").write_text(json.dumps(board, indent=2))
    plot(rows, out_dir / "leaderboard.png")
    return text
