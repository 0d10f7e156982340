"""Speed of hftl against plain HF ``Trainer`` on the same model, data, batch size and max_length.

    python bench/speed_vs_trainer.py [--samples 320] [--rounds 2]

frozen:   hftl's cached-feature head (10 epochs, encoding included, cold and warm cache) vs Trainer with a
          frozen encoder (10 epochs).
finetune: training samples/second of hftl's loop vs Trainer's, full fine-tuning, 1 epoch, alternating order;
          hftl with its default length-grouped batches and with plain random batches like Trainer's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

import torch
from common import machine, minilm_path, require_data, save
from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

from hftl.recipe import parse_recipe
from hftl.run import make_accelerator, prepare, train


def recipe(strategy: str, epochs: int, lr: float, samples: int, cache_dir: str, out: str):
    data = require_data("amazon-reviews")
    return parse_recipe(
        {
            "model": {"checkpoint": minilm_path()},
            "data": {
                "source": {"path": "json", "data_files": str(data / "books.jsonl"), "max_samples": samples},
                "target": {"path": "json", "data_files": str(data / "kitchen.jsonl"), "max_samples": 64},
                "split": {"source_val_fraction": 0.2, "target_test_fraction": 0.5},
            },
            "strategy": {"name": strategy},
            "training": {
                "epochs": epochs,
                "batch_size": 16,
                "learning_rate": lr,
                "max_length": 128,
                "logging_steps": 50,
            },
            "cache": {"dir": cache_dir},
            "output_dir": out,
        }
    )


def trainer_run(rec, freeze_encoder: bool, workdir: str) -> dict:
    """The same job with plain ``Trainer``: same tokenized split, collator, batch size, epochs and LR."""
    prepared = prepare(rec, make_accelerator(rec, None))
    dataset = prepared.ctx.data.splits["source_train"]
    model = AutoModelForSequenceClassification.from_pretrained(rec.model.checkpoint, num_labels=2)
    if freeze_encoder:
        for name, param in model.named_parameters():
            param.requires_grad_(name.startswith("classifier"))
    args = TrainingArguments(
        output_dir=workdir,
        per_device_train_batch_size=rec.training.batch_size,
        num_train_epochs=rec.training.epochs,
        learning_rate=rec.training.learning_rate,
        warmup_steps=rec.training.warmup_ratio,  # a float in [0, 1) is a ratio
        weight_decay=rec.training.weight_decay,
        report_to="none",
        save_strategy="no",
        logging_steps=50,
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=prepared.ctx.collate)
    out = trainer.train()
    return {"runtime_s": out.metrics["train_runtime"], "samples_per_second": out.metrics["train_samples_per_second"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=400, help="frozen: source examples (80%% train)")
    parser.add_argument("--finetune-samples", type=int, default=240, help="finetune: source examples (80%% train)")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="hftl-speed-")
    result = {
        "machine": machine(),
        "samples": args.samples,
        "batch_size": 16,
        "max_length": 128,
        "command": f"python bench/speed_vs_trainer.py --samples {args.samples} "
        f"--finetune-samples {args.finetune_samples} --rounds {args.rounds}",
    }

    frozen = recipe("frozen", 10, 1e-2, args.samples, f"{tmp}/cache", f"{tmp}/frozen")
    cold = train(frozen, overwrite=True)["train/runtime_s"]
    warm = train(frozen, overwrite=True)["train/runtime_s"]
    baseline = trainer_run(frozen, freeze_encoder=True, workdir=f"{tmp}/trainer-frozen")["runtime_s"]
    result["frozen"] = {
        "hftl_cold_cache_s": cold,
        "hftl_warm_cache_s": warm,
        "trainer_frozen_encoder_s": baseline,
        "speedup_cold": baseline / cold,
        "speedup_warm": baseline / warm,
    }
    print(result["frozen"], flush=True)

    rows = []
    full = recipe("finetune", 1, 5e-5, args.finetune_samples, f"{tmp}/cache", f"{tmp}/finetune")
    ungrouped = full.model_copy(update={"training": full.training.model_copy(update={"group_by_length": False})})
    for round_index in range(args.rounds):
        runs = {
            "hftl": lambda: train(full, overwrite=True)["train/loop_samples_per_second"],
            "hftl_random_batches": lambda: train(ungrouped, overwrite=True)["train/loop_samples_per_second"],
            "trainer": lambda: trainer_run(full, False, f"{tmp}/trainer-full")["samples_per_second"],
        }
        order = list(runs) if round_index % 2 == 0 else list(reversed(runs))  # alternate who runs first
        row = {name: runs[name]() for name in order}
        rows.append(row)
        print(row, flush=True)
    result["finetune"] = {
        "rounds": rows,
        "ratio_median": statistics.median(r["hftl"] / r["trainer"] for r in rows),
        "ratio_random_batches_median": statistics.median(r["hftl_random_batches"] / r["trainer"] for r in rows),
    }
    result["torch_threads"] = torch.get_num_threads()
    print({k: result[k] for k in ("frozen", "finetune")})
    save("speed_vs_trainer", result)


if __name__ == "__main__":
    main()
