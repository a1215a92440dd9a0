"""Label indices that come with their own names: a checkpoint's id2label, a ClassLabel column's names.

An index means a class only through the names list it came with. A classifier fine-tuned
elsewhere may say {0: "positive", 1: "negative"}; a parquet file written by `datasets`
stores ClassLabel integers whose meaning is the column's own `names`; a checkpoint of rte
(entailment, not_entailment) continued on wnli (not_entailment, entailment). Read as if
index i were the dataset's label i, each silently swaps classes. Here such names are
matched to a dataset's labels by name (in any letter case, as `examples.label_index` reads a
label name, or cut short as the hub's imdb writes "neg", "pos"): `order_by_name` gives, for
every dataset label, its index in the other list.

Names that say nothing are not names: transformers' default "LABEL_0", "LABEL_1", ... and
the ClassLabel default "0", "1", ... (`ClassLabel(num_classes=n)`). Indices under them are
read as the dataset's, as before.
"""
from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence

from configs.datasets import DatasetSpec
from data_utils.errors import FuteError

_GENERIC = re.compile(r"(LABEL_)?\d+")


def named(names: Sequence[str]) -> bool:
    """True when `names` name their classes: not transformers' LABEL_<i> nor ClassLabel's "<i>" defaults."""
    return not all(_GENERIC.fullmatch(str(name)) for name in names)


def order_by_name(names: Sequence[str], labels: Sequence[str]) -> list[int] | None:
    """For each of `labels`, the index of the same name in `names`; None unless `names` are `labels` in some
    order. order_by_name(["Positive", "negative"], ["negative", "positive"]) == [1, 0].

    The same name: equal in any letter case or, for a label no name equals, the one name that it begins
    with or that begins with it (at least 3 letters): the hub's imdb and rotten_tomatoes call the
    registry's negative and positive "neg" and "pos"."""
    lowered = [str(name).lower() for name in names]
    if len(set(lowered)) != len(names) or len(names) != len(labels):
        return None
    order = [lowered.index(label.lower()) if label.lower() in lowered else None for label in labels]
    for i, label in enumerate(labels):
        if order[i] is None:
            free = [k for k, name in enumerate(lowered) if k not in order and _abbreviates(name, label.lower())]
            order[i] = free[0] if len(free) == 1 else None
    return order if None not in order and len(set(order)) == len(order) else None


def _abbreviates(a: str, b: str) -> bool:
    return min(len(a), len(b)) >= 3 and (a.startswith(b) or b.startswith(a))


def class_label_names(features: Mapping, field: str) -> list[str] | None:
    """The names of column `field` when it is a ClassLabel in `features`, a datasets Features mapping in its
    dict form (`Features.to_dict()`, or the "huggingface" metadata that `to_parquet` writes); else None."""
    feature = features.get(field)
    if isinstance(feature, Mapping) and feature.get("_type") == "ClassLabel":
        return [str(name) for name in feature.get("names") or ()]
    return None


def labels_by_name(rows: list[dict], features: Mapping, spec: DatasetSpec | None, where: str) -> list[dict]:
    """`rows` with the integers of a ClassLabel label column replaced by the dataset's label of the same
    name (`order_by_name`), which `examples.label_index` then reads; rows unchanged when the column is no
    ClassLabel, or its names are the dataset's in its order or say nothing (`named`). Values that are not a
    class index (the hub's -1, no gold label) stay as they are.

    Raises FuteError naming both lists when the column's names are not the dataset's labels in any order.
    """
    if spec is None or spec.regression:
        return rows
    names = class_label_names(features, spec.label_field)
    if not names or not named(names):
        return rows
    order = order_by_name(names, spec.labels)
    if order is None:
        raise FuteError(f"{where}: its {spec.label_field!r} column is a ClassLabel whose integers mean {names}, "
                        f"not {spec.name}'s labels {list(spec.labels)}; is this {spec.name}? write the file with "
                        f"the label names as text, or with ClassLabel(names={list(spec.labels)})")
    if order == list(range(len(names))):
        return rows
    field, label_of = spec.label_field, {k: spec.labels[i] for i, k in enumerate(order)}

    def name_of(value):
        inside = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value in label_of
        return label_of[value] if inside else value
    return [{**row, field: name_of(row.get(field))} if field in row else row for row in rows]
