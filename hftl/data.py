"""DomainData: load source/target with ``datasets``, align labels, make seeded stratified splits, process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from datasets import Dataset, load_dataset
from sklearn.model_selection import train_test_split

from hftl.errors import RecipeError, did_you_mean
from hftl.images import NotAnImageError, to_rgb
from hftl.labels import encode_labels, source_label_names

if TYPE_CHECKING:
    from hftl.recipe import DataSection, DomainSpec

#: Names of the evaluation splits every run reports (extra eval sets add their own names).
SOURCE_VAL, TARGET_TEST = "source_val", "target_test"
RESERVED_SPLITS = {"source_train", SOURCE_VAL, "target_train", "target_labeled", TARGET_TEST}


@dataclass
class DomainData:
    """Every split of a run, each with a ``labels`` column (the unlabeled target pool has none)."""

    label_names: list[str]
    splits: dict[str, Dataset]
    eval_names: list[str] = field(default_factory=list)

    def fingerprint(self, split: str) -> str:
        return self.splits[split]._fingerprint

    def sizes(self) -> dict[str, int]:
        return {name: len(ds) for name, ds in self.splits.items()}


def load_domain(spec: DomainSpec, field_path: str, split: str | None = None) -> Dataset:
    """``datasets.load_dataset`` for one domain; any failure becomes a RecipeError on its field."""
    split = split or spec.split
    try:
        ds = load_dataset(
            spec.path,
            spec.name,
            data_files=spec.data_files,
            data_dir=spec.data_dir,
            revision=spec.revision,
            split=split,
        )
    except FileNotFoundError as exc:
        where = "data_files" if spec.data_files else "path"
        raise RecipeError(f"{field_path}.{where}", f"not found: {_first_line(exc)}") from None
    except ValueError as exc:
        message = _first_line(exc)
        where = "split" if "split" in message.lower() else "path"
        raise RecipeError(f"{field_path}.{where}", message) from None
    except StopIteration:
        where = "data_files" if spec.data_files else "path"
        raise RecipeError(f"{field_path}.{where}", "no examples could be read (is the file empty?)") from None
    except Exception as exc:
        raise RecipeError(f"{field_path}.path", f"cannot load '{spec.path}': {_first_line(exc)}") from None
    if len(ds) == 0:
        raise RecipeError(f"{field_path}.split", f"split '{split}' is empty")
    return ds


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_columns(ds: Dataset, spec: DomainSpec, field_path: str) -> None:
    """Every column the spec names exists; an image column's first rows decode as images."""
    columns = ["image_column"] if spec.image_column else ["text_column", "text_pair_column"]
    for key in [*columns, "label_column"]:
        column = getattr(spec, key)
        if column is not None and column not in ds.column_names:
            hint = did_you_mean(column, ds.column_names)
            raise RecipeError(
                f"{field_path}.{key}",
                f"column '{column}' not found{hint} (available: {', '.join(ds.column_names)})",
            )
    if spec.image_column:
        for row, value in enumerate(ds.select(range(min(len(ds), 3)))[spec.image_column]):
            try:
                to_rgb(value)
            except NotAnImageError as exc:
                raise RecipeError(
                    f"{field_path}.image_column", f"column '{spec.image_column}' row {row} is not an image: {exc}"
                ) from None


def stratified_split(ds: Dataset, fraction: float, seed: int, field_path: str) -> tuple[Dataset, Dataset]:
    """Split into (rest, held_out) with ``fraction`` held out, stratified by ``labels``."""
    labels = np.asarray(ds["labels"])
    counts = np.bincount(labels)
    held = round(fraction * len(ds))
    if held < 1 or len(ds) - held < 1:
        raise RecipeError(field_path, f"{len(ds)} examples are too few to hold out a fraction of {fraction}")
    stratify = labels if counts[counts > 0].min() >= 2 and held >= len(counts[counts > 0]) else None
    try:
        rest, out = train_test_split(np.arange(len(ds)), test_size=held, random_state=seed, stratify=stratify)
    except ValueError as exc:
        raise RecipeError(field_path, f"cannot split {len(ds)} examples: {exc}") from None
    return ds.select(np.sort(rest)), ds.select(np.sort(out))


def per_class_sample(ds: Dataset, per_class: int, seed: int, field_path: str) -> tuple[Dataset, Dataset]:
    """Split into (rest, sample) where ``sample`` has ``per_class`` examples of each label."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(ds["labels"])
    chosen = []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        if len(idx) < per_class:
            raise RecipeError(field_path, f"asks {per_class} target labels per class, class {label} has {len(idx)}")
        chosen.extend(rng.choice(idx, size=per_class, replace=False).tolist())
    chosen_set = set(chosen)
    rest = [i for i in range(len(ds)) if i not in chosen_set]
    return ds.select(rest), ds.select(sorted(chosen))


def subsample(ds: Dataset, max_samples: int | None, seed: int) -> Dataset:
    if max_samples is None or max_samples >= len(ds):
        return ds
    _, kept = stratified_split(ds, max_samples / len(ds), seed, "max_samples")
    return kept


def _labeled(spec: DomainSpec, field_path: str, names: list[str], label_names, split: str | None = None) -> Dataset:
    ds = load_domain(spec, field_path, split)
    check_columns(ds, spec, field_path)
    return encode_labels(ds, spec.label_column, names, label_names, f"{field_path}.label_column")


def build_domain_data(data: DataSection, extra: dict[str, DomainSpec]) -> DomainData:
    """Load every domain and build the seeded, stratified splits a run uses."""
    cfg, seed = data.split, data.split.seed
    raw_source = load_domain(data.source, "data.source")
    check_columns(raw_source, data.source, "data.source")
    names = source_label_names(raw_source, data.source.label_column, data.label_names, "data.source.label_column")
    if len(names) < 2:
        raise RecipeError("data.source.label_column", f"needs at least 2 classes, found {names}")
    source = encode_labels(raw_source, data.source.label_column, names, data.label_names, "data.source.label_column")
    source = subsample(source, data.source.max_samples, seed)
    if data.source.val_split:
        source_train = source
        source_val = _labeled(data.source, "data.source", names, data.label_names, data.source.val_split)
    else:
        source_train, source_val = stratified_split(
            source, cfg.source_val_fraction, seed, "data.split.source_val_fraction"
        )

    target = subsample(_labeled(data.target, "data.target", names, data.label_names), data.target.max_samples, seed)
    if data.target.test_split:
        pool, target_test = (
            target,
            _labeled(data.target, "data.target", names, data.label_names, data.target.test_split),
        )
    else:
        pool, target_test = stratified_split(target, cfg.target_test_fraction, seed, "data.split.target_test_fraction")
    splits = {"source_train": source_train, SOURCE_VAL: source_val}
    if cfg.target_labeled_per_class:
        pool, splits["target_labeled"] = per_class_sample(
            pool, cfg.target_labeled_per_class, seed, "data.split.target_labeled_per_class"
        )
    splits["target_train"] = pool.remove_columns("labels")
    splits[TARGET_TEST] = target_test
    for name, spec in extra.items():
        if name in RESERVED_SPLITS:
            raise RecipeError(f"eval.extra.{name}", f"'{name}' is reserved; choose another name")
        splits[name] = _labeled(spec, f"eval.extra.{name}", names, data.label_names)
    for name, ds in splits.items():
        if len(ds) == 0:
            raise RecipeError(f"data ({name})", "split is empty after splitting; use more data or other fractions")
    return DomainData(names, splits, [SOURCE_VAL, TARGET_TEST, *extra])


def process_splits(
    domain: DomainData, specs: dict[str, DomainSpec], process: Callable[[Dataset, DomainSpec], Dataset]
) -> DomainData:
    """Apply a preprocessor (tokenizer, image processor) to every split with its domain's spec."""
    splits = {name: process(ds, specs[name]) for name, ds in domain.splits.items()}
    return DomainData(domain.label_names, splits, domain.eval_names)


def split_specs(data: DataSection, extra: dict[str, DomainSpec]) -> dict[str, DomainSpec]:
    """Which domain spec (columns) each split name comes from."""
    specs = {"source_train": data.source, SOURCE_VAL: data.source}
    specs.update({n: data.target for n in ("target_train", "target_labeled", TARGET_TEST)})
    specs.update(extra)
    return specs
