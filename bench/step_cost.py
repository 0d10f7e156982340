"""Cost of a training step: `dann` vs source-only `finetune` on the same number of examples, and peak memory of
LoRA vs full fine-tuning. Real MiniLM, real reviews, max_length 128.

    python bench/step_cost.py [--batch 16] [--steps 6]

Time: a finetune step on 2B source examples vs a dann step on B source + B target examples, alternating,
median over --steps steps each (after one warm-up step each). Memory: each variant trains --steps steps in a fresh
subprocess that samples its resident memory every 5 ms; reported is the peak minus the resident memory just
before training starts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from common import machine, minilm_path, require_data, save

from hftl.recipe import parse_recipe
from hftl.run import make_accelerator, prepare
from hftl.train import make_optimizer

VARIANTS = {
    "finetune": {"name": "finetune"},
    "dann": {"name": "adversarial", "method": "dann"},
    "lora": {"name": "finetune", "peft": {"method": "lora", "r": 8, "alpha": 16, "target_modules": ["query", "value"]}},
}


def build(variant: str, batch: int):
    data = require_data("amazon-reviews")
    recipe = parse_recipe({
        "model": {"checkpoint": minilm_path()},
        "data": {"source": {"path": "json", "data_files": str(data / "books.jsonl"), "max_samples": 400},
                 "target": {"path": "json", "data_files": str(data / "kitchen.jsonl"), "max_samples": 400}},
        "strategy": VARIANTS[variant],
        "training": {"batch_size": batch, "max_length": 128, "group_by_length": False},
        "output_dir": tempfile.mkdtemp(),
    })  # fmt: skip
    prepared = prepare(recipe, make_accelerator(recipe, None))
    strategy, ctx = prepared.strategy, prepared.ctx
    train = strategy.train_data(ctx)
    optimizer = make_optimizer(strategy.param_groups(recipe.training), recipe.training.learning_rate)
    return strategy, train, optimizer


def batches(train, size: int, start: int, paired: bool):
    rows = [train.source[(start + i) % len(train.source)] for i in range(size)]
    source = train.collate(rows)
    if not paired:
        return source, None
    target = train.collate([train.target[(start + i) % len(train.target)] for i in range(size)])
    return source, target


def step(strategy, optimizer, source, target) -> float:
    begin = time.perf_counter()
    out = strategy(source, target, 0.5)
    out["loss"].backward()
    torch.nn.utils.clip_grad_norm_(strategy.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - begin


def time_steps(batch: int, steps: int) -> dict:
    full, full_data, full_opt = build("finetune", 2 * batch)
    dann, dann_data, dann_opt = build("dann", batch)
    times = {"finetune": [], "dann": []}
    for i in range(steps + 1):
        # Same examples for both: the finetune batch is the B source + B "target" rows given labels.
        source, target = batches(dann_data, batch, i * batch, paired=True)
        both = batches(full_data, 2 * batch, i * 2 * batch, paired=False)[0]
        t_full = step(full, full_opt, both, None)
        t_dann = step(dann, dann_opt, source, target)
        if i:  # the first step of each warms up kernels and allocators
            times["finetune"].append(t_full)
            times["dann"].append(t_dann)
    median = {k: statistics.median(v) for k, v in times.items()}
    return {"seconds_per_step": times, "median_s": median, "ratio": median["dann"] / median["finetune"]}


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


def memory_run(variant: str, batch: int, steps: int) -> None:
    strategy, train, optimizer = build(variant, batch)
    base, peak, running = rss_bytes(), [0], [True]

    def sample() -> None:
        while running[0]:
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.005)

    thread = threading.Thread(target=sample)
    thread.start()
    for i in range(steps):
        step(strategy, optimizer, *batches(train, batch, i * batch, paired=train.target is not None))
    running[0] = False
    thread.join()
    trainable = sum(p.numel() for p in strategy.parameters() if p.requires_grad)
    print(json.dumps({"variant": variant, "peak_mb": (peak[0] - base) / 2**20, "trainable_params": trainable}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--memory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        return memory_run(args.memory, args.batch, args.steps)
    result = {"machine": machine(), "command": f"python bench/step_cost.py --batch {args.batch} --steps {args.steps}"}
    memory = {}
    for variant in ("finetune", "lora"):
        done = subprocess.run([sys.executable, __file__, "--memory", variant, "--batch", str(args.batch),
                               "--steps", str(args.steps)], capture_output=True, text=True, check=True)  # fmt: skip
        memory[variant] = json.loads(done.stdout.strip().splitlines()[-1])
        print(memory[variant], flush=True)
    result["memory"] = memory
    result["memory_ratio_lora_over_full"] = memory["lora"]["peak_mb"] / memory["finetune"]["peak_mb"]
    result["time"] = time_steps(args.batch, args.steps)
    print(
        {
            "dann_over_finetune_step": result["time"]["ratio"],
            "lora_over_full_memory": result["memory_ratio_lora_over_full"],
        }
    )
    save("step_cost", result)


if __name__ == "__main__":
    main()
