"""The task-embedding methods, one entry each: what `run_task_emb.py --task_emb_type` learns and how
the paper's tables name the result.

A method is a family (how the embedding is computed: prefix, fim or text) under a schedule:
the original method's ("baseline": TuPaTE's and TaskEmb's fixed epochs, DTEs only) or FUTE's
(early-stopped DTEs, and MTEs of models on the shared surrogate). Its id is what records store,
what `--methods` takes and the folder the sweeps write it to. The entries are in the paper's
row order.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmbeddingMethod:
    """id: in records, --methods and folder names; family: --task_emb_type; fute: FUTE's schedule (its
    FUTE methods compare the MTE of a source model with the DTE of a target); paper_name: the tables' row."""

    id: str
    family: str
    fute: bool
    paper_name: str


METHODS: tuple[EmbeddingMethod, ...] = (
    EmbeddingMethod("textemb", "text", fute=False, paper_name="TextEmb"),
    EmbeddingMethod("fim-baseline", "fim", fute=False, paper_name="TaskEmb"),
    EmbeddingMethod("prefix-baseline", "prefix", fute=False, paper_name="TuPaTE"),
    EmbeddingMethod("fim-fute", "fim", fute=True, paper_name="FUTE + TaskEmb"),
    EmbeddingMethod("prefix-fute", "prefix", fute=True, paper_name="FUTE + TuPaTE"),
)
METHODS_BY_ID: dict[str, EmbeddingMethod] = {method.id: method for method in METHODS}
# --task_emb_type: the families, in first-seen order.
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(method.family for method in METHODS))
# Families whose embedding is learned from an initialisation e0 that is the same for every task
# (seeded): their displacement e - e0 is what training added.
FAMILIES_WITH_INIT: tuple[str, ...] = ("prefix",)


def method_of(family: str, fute: bool) -> EmbeddingMethod:
    """The method `family` computes under FUTE's schedule (fute) or the original's; a family with a single
    method (text: TextEmb, which trains nothing) has it under either. KeyError for an unknown family."""
    methods = [method for method in METHODS if method.family == family]
    for method in methods:
        if method.fute == fute:
            return method
    if len(methods) == 1:
        return methods[0]
    raise KeyError(f"no method of family {family!r}; known: {', '.join(FAMILIES)}")


def paper_name(method_id: str) -> str:
    """The tables' row name of a method id (an unknown id names itself)."""
    method = METHODS_BY_ID.get(method_id)
    return method.paper_name if method else method_id


def method_order(method_ids) -> list[str]:
    """The paper's rows first, in its order; any other id after them, alphabetically."""
    known = [method.id for method in METHODS if method.id in method_ids]
    return known + sorted(set(method_ids) - set(known))
