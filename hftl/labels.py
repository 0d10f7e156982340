"""Label alignment across domains by name (ClassLabel names, string labels or integer ids)."""

from __future__ import annotations

from collections.abc import Sequence

from datasets import ClassLabel, Dataset

from hftl.errors import RecipeError


def _value_names(ds: Dataset, column: str, label_names: Sequence[str] | None, field: str) -> list[str]:
    """Each row's label as a name."""
    feature = ds.features[column]
    values = ds[column]
    if isinstance(feature, ClassLabel):
        return [feature.int2str(v) for v in values]
    if label_names is not None and values and all(isinstance(v, int) for v in values):
        bad = sorted({v for v in values if not 0 <= v < len(label_names)})
        if bad:
            raise RecipeError(
                field, f"integer labels {bad[:5]} are outside data.label_names (0..{len(label_names) - 1})"
            )
        return [label_names[v] for v in values]
    if any(v is None for v in values):
        raise RecipeError(field, "has missing (null) labels; drop or fill them first")
    return [str(v) for v in values]


def source_label_names(ds: Dataset, column: str, label_names: Sequence[str] | None, field: str) -> list[str]:
    """The canonical label order: ClassLabel order, ``data.label_names``, or sorted values."""
    feature = ds.features[column]
    if isinstance(feature, ClassLabel):
        return list(feature.names)
    if label_names is not None:
        return list(label_names)
    values = set(ds[column])
    if any(v is None for v in values):
        raise RecipeError(field, "has missing (null) labels; drop or fill them first")
    if all(isinstance(v, int) for v in values):
        return [str(v) for v in sorted(values)]
    return sorted(str(v) for v in values)


def encode_labels(
    ds: Dataset, column: str, names: Sequence[str], label_names: Sequence[str] | None, field: str
) -> Dataset:
    """Replace ``column`` by an integer ``labels`` column in the canonical order; unknown labels fail."""
    row_names = _value_names(ds, column, label_names, field)
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(row_names) - set(index))
    if unknown:
        raise RecipeError(field, f"labels {unknown[:5]} are not in the source label set {list(names)}")
    ids = [index[n] for n in row_names]
    ds = ds.remove_columns([c for c in (column, "labels") if c in ds.column_names])
    return ds.add_column("labels", ids).cast_column("labels", ClassLabel(names=list(names)))
