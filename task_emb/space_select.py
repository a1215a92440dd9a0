"""Which embeddings the unified-space table ranks (task_emb/space_eval.py): per method its MTEs and DTEs, named as
the user named them, and the same ones under every seed."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from data_utils.artifacts.data_identity import TaskLabels
from data_utils.artifacts.embeddings import Embedding, check_same_dim, natural_key
from data_utils.errors import FuteError


def select(embeddings: Sequence[Embedding], methods: Sequence[str] | None, where: str,
           dtes: Sequence[str] | None = None, mtes: Sequence[str] | None = None
           ) -> dict[str, tuple[list[Embedding], list[Embedding]]]:
    """method -> (its MTEs, its DTEs) in natural order of their labels (p2 before p10), for every method
    (of `methods`) that has both kinds; only the DTEs `dtes` and the MTEs `mtes` name when given (a sweep names
    what it declared, so the table never depends on what else the folder holds). Both name embeddings as
    `TaskLabels.named` reads them: a dataset's name (every dataset of that name), "<name>@<digest>" as a
    table labels one of two datasets of one name, a declaration file, or an LLM + prompt ("<llm>:p<k>").

    Raises FuteError naming a method, DTE or MTE that was asked for and is not in `where`."""
    chosen = {}
    for method in sorted({e.method for e in embeddings}):
        own = [e for e in embeddings if e.method == method and (methods is None or method in methods)]
        labels = TaskLabels.of_embeddings(own, warn=False)  # the table built from those chosen warns
        rows, absent_mtes = _named(own, "MTE", mtes, labels)
        columns, absent_dtes = _named(own, "DTE", dtes, labels)
        if not (rows and columns):
            continue
        absent = [f"MTE {m}" for m in absent_mtes] + [f"DTE {d}" for d in absent_dtes]
        if absent:
            raise FuteError(f"{', '.join(absent)} of method {method} not in {where}; run the steps that make "
                            f"them, or leave them out of --mtes/--dtes")
        check_same_dim([*rows, *columns], f"method {method}")
        chosen[method] = (sorted(rows, key=lambda e: natural_key(labels.of(e))),
                          sorted(columns, key=lambda e: natural_key(labels.of(e))))
    missing = sorted(set(methods or ()) - set(chosen))
    if missing or not chosen:
        raise FuteError(f"no DTEs and MTEs of method(s) {', '.join(missing) or 'any'} in {where}; the unified space "
                        f"needs both kinds of one method")
    return chosen


def _named(embeddings: Sequence[Embedding], kind: str, asked: Sequence[str] | None, labels: TaskLabels
           ) -> tuple[list[Embedding], list[str]]:
    """(the embeddings of `kind` that `asked` names, all when None; the names in `asked` that name none)."""
    found = [e for e in embeddings if e.kind == kind]
    if asked is None:
        return found, []
    shown = {labels.of(e) for e in found}
    wanted = {name: set(labels.named([name])) & shown for name in asked}
    picked = set().union(*wanted.values())
    return [e for e in found if labels.of(e) in picked], [name for name, hits in wanted.items() if not hits]


def check_seeds_alike(chosen: Mapping[int, Mapping[str, tuple[list[Embedding], list[Embedding]]]],
                      labels: TaskLabels) -> None:
    """Every seed must have the same MTEs and DTEs of each method: a seed lacking one another seed has is an error
    naming what it lacks."""
    held = {seed: {(method, e.kind, labels.of(e)) for method, (mtes, dtes) in by_method.items()
                   for e in (*mtes, *dtes)} for seed, by_method in chosen.items()}
    every = set().union(*held.values())
    lacking = [f"seed {seed} has no " + ", ".join(f"{kind} {label} ({method})" for method, kind, label in
                                                  sorted(every - h)) for seed, h in held.items() if every - h]
    if lacking:
        raise FuteError(f"the seeds' embeddings differ: {'; '.join(lacking)}; run those steps for every seed, or "
                        f"leave the seed out of --emb_dir")
