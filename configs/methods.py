"""The task-embedding methods, as data: one entry per family (its code: task_emb/families.py).

A family is how an embedding is computed (prefix, fim, text): its default hyper-parameters and the
methods it gives, one per schedule (the code that computes it is registered in task_emb/families.py):
the original method's ("baseline": TuPaTE's and TaskEmb's fixed epochs, DTEs only) and FUTE's
(early-stopped DTEs, and MTEs of models on the shared surrogate). A method's id is what records
store, what --methods takes and the folder the sweeps write it to.

Defaults are keyed by (input, task group, baseline): input "data" (a labelled dataset), "model"
(a fine-tuned LM's outputs on x') or "llm" (an LLM's y'); task group "cr" or "qa" (the LLM genres
sa / nli use "cr": classification heads); baseline True = the original method's schedule.
patience None = a fixed number of epochs. Every flag given on the command line wins.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from configs.hparams import TASK_EMB_DATA, TASK_EMB_LLM, TASK_EMB_MODEL

Defaults = Mapping[tuple[str, str, bool], Mapping[str, object]]


@dataclass(frozen=True)
class EmbeddingMethod:
    """id: in records, --methods and folder names; family: --task_emb_type; fute: FUTE's schedule (a FUTE
    method compares the MTE of a source model with the DTE of a target); paper_name: the tables' row."""

    id: str
    family: str
    fute: bool
    paper_name: str


@dataclass(frozen=True)
class EmbeddingFamily:
    """name: --task_emb_type; methods: its methods (at most one per schedule); defaults: its hyper-parameters;
    shared_init: every task starts from one seeded e0 (its displacement e - e0 is what training added)."""

    name: str
    methods: tuple[EmbeddingMethod, ...]
    defaults: Defaults
    shared_init: bool = False

    def method(self, fute: bool) -> EmbeddingMethod:
        """The method it computes under FUTE's schedule (fute) or the original's; a family with a single method
        (text: TextEmb, which trains nothing) has it under either. KeyError when it has none for the schedule."""
        for method in self.methods:
            if method.fute == fute:
                return method
        if len(self.methods) == 1:
            return self.methods[0]
        raise KeyError(f"family {self.name!r} has no {'FUTE' if fute else 'baseline'} method")


def _schedules(data: Mapping[str, dict], fute_data: Mapping[str, dict], model: Mapping[str, dict] | None,
               llm: Mapping | None) -> dict:
    """(input, group, baseline) -> defaults, from per-group values of each input."""
    table = {}
    for group in ("cr", "qa"):
        table["data", group, True] = {**TASK_EMB_DATA[group], **data[group], "patience": None}
        table["data", group, False] = {**TASK_EMB_DATA[group], **fute_data[group], "patience": 4}
        if model is not None:
            table["model", group, False] = {**TASK_EMB_MODEL[group], **model}
    if llm is not None:
        table["llm", "cr", False] = {**TASK_EMB_LLM, **llm}
    return table


FAMILIES: tuple[EmbeddingFamily, ...] = (
    EmbeddingFamily(
        # TextEmb (TaskEmb's baseline): no training, it reads the data as a DTE does (batch, length).
        name="text",
        methods=(EmbeddingMethod("textemb", "text", fute=False, paper_name="TextEmb"),),
        defaults={("data", group, baseline): TASK_EMB_DATA[group] for group in ("cr", "qa")
                  for baseline in (True, False)}),
    EmbeddingFamily(
        name="fim",
        methods=(EmbeddingMethod("fim-baseline", "fim", fute=False, paper_name="TaskEmb"),
                 EmbeddingMethod("fim-fute", "fim", fute=True, paper_name="FUTE + TaskEmb")),
        defaults=_schedules(data={"cr": {"learning_rate": 2e-5, "max_epochs": 3},
                                  "qa": {"learning_rate": 3e-5, "max_epochs": 3}},
                            fute_data={"cr": {"learning_rate": 2e-5, "max_epochs": 120},
                                       "qa": {"learning_rate": 3e-5, "max_epochs": 60}},
                            model={"learning_rate": 2e-5, "gradient_accumulation_steps": 32},
                            llm={"learning_rate": 2e-5, "gradient_accumulation_steps": 32})),
    EmbeddingFamily(
        name="prefix", shared_init=True,
        methods=(EmbeddingMethod("prefix-baseline", "prefix", fute=False, paper_name="TuPaTE"),
                 EmbeddingMethod("prefix-fute", "prefix", fute=True, paper_name="FUTE + TuPaTE")),
        defaults=_schedules(data={"cr": {"learning_rate": 1e-2, "max_epochs": 60},
                                  "qa": {"learning_rate": 5e-3, "max_epochs": 30}},
                            fute_data={"cr": {"learning_rate": 1e-2, "max_epochs": 120},
                                       "qa": {"learning_rate": 5e-3, "max_epochs": 60}},
                            model={"learning_rate": 1e-3, "gradient_accumulation_steps": 16},
                            llm={"learning_rate": 1e-3, "gradient_accumulation_steps": 16})),
)
FAMILIES_BY_NAME: dict[str, EmbeddingFamily] = {family.name: family for family in FAMILIES}
# Every method, in the paper's row order: the baselines, then FUTE's, each in family order.
METHODS: tuple[EmbeddingMethod, ...] = tuple(sorted((m for f in FAMILIES for m in f.methods),
                                                    key=lambda m: (m.fute, [f.name for f in FAMILIES].index(m.family))))
METHODS_BY_ID: dict[str, EmbeddingMethod] = {method.id: method for method in METHODS}


def method_of(family: str, fute: bool) -> EmbeddingMethod:
    """EmbeddingFamily.method of the family named `family`; KeyError for an unknown family."""
    if family not in FAMILIES_BY_NAME:
        raise KeyError(f"no method of family {family!r}; known: {', '.join(FAMILIES_BY_NAME)}")
    return FAMILIES_BY_NAME[family].method(fute)


def paper_name(method_id: str) -> str:
    """The tables' row name of a method id (an unknown id names itself)."""
    method = METHODS_BY_ID.get(method_id)
    return method.paper_name if method else method_id


def method_order(method_ids) -> list[str]:
    """The paper's rows first, in its order; any other id after them, alphabetically."""
    known = [method.id for method in METHODS if method.id in method_ids]
    return known + sorted(set(method_ids) - set(known))
