"""What a run needs to be reproduced: package versions, device and world size, hftl's git commit, data fingerprints."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("hftl", "torch", "transformers", "datasets", "accelerate", "peft", "huggingface_hub", "safetensors",
            "scikit-learn", "numpy", "tokenizers", "pydantic")  # fmt: skip
RUN_INFO = "run_info.json"


def git_commit() -> str | None:
    """hftl's git commit when it runs from a checkout (None for an installed wheel)."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                              text=True, timeout=5)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def environment(accelerator, mixed_precision: str) -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    import torch

    device = str(accelerator.device)
    if torch.cuda.is_available():
        device += f" ({torch.cuda.get_device_name()})"
    return {
        "python": sys.version.split()[0], "platform": platform.platform(), "packages": versions, "device": device,
        "world_size": accelerator.num_processes, "distributed_type": str(accelerator.distributed_type),
        "mixed_precision": mixed_precision, "torch_threads": torch.get_num_threads(), "hftl_git_commit": git_commit(),
    }  # fmt: skip


def write_run_info(run_dir: Path, data) -> None:
    """Split sizes, label names and the fingerprint of every split (for `hftl card` and for reruns)."""
    info = {
        "label_names": data.label_names, "eval_names": data.eval_names, "sizes": data.sizes(),
        "data_fingerprints": {name: ds._fingerprint for name, ds in data.splits.items()},
    }  # fmt: skip
    (run_dir / RUN_INFO).write_text(json.dumps(info, indent=2))


def read_run_info(run_dir: Path) -> dict:
    return json.loads((run_dir / RUN_INFO).read_text())
