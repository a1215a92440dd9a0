"""The paper's reported numbers beside our tables: a block of reference rows marked as the paper's, and under it
what differs from the paper's setup (the numbers and the setup: configs/paper_results.py).

A table knows its setup from the records of what it read:

- the transfer table (task_emb/transfer_table.py): its tasks and their classes, the base LM of its plain fine-tunes
  and the training examples they were cut to (ScoreRecord.lm_model_name, max_train_examples), and the surrogate of
  every embedding of its methods (EmbeddingInfo.surrogate);
- the prompt table (llm_inference/prompt_table.py): its LLMs, their datasets per genre and prompts, and the
  surrogate of the DTE behind each FUTE row.

The paper's rows are shown when that setup is the paper's: the transfer table's tasks are exactly the paper's pool
in its classes (`scripts/sweep.py --grid paper`), its LM bert-base-uncased and its surrogate t5-base; the prompt
table's LLMs are among Llama 2 13B, Llama 2 70B and Mixtral 8x7B (alias or hub id), each with the paper's datasets
of each genre and its 13 prompts, and its surrogate t5-base. A model is the paper's when named as the paper's runs
name it (configs.paper_results); a local folder never is, whatever it holds. Under the rows, the block lists what
still differs from the paper's setup, as far as the records say: fine-tunes on a cut of their training split, the
paper's LLMs absent, the paper's rows we do not compute.

Where: Markdown, a section after our table; JSON, the key "paper_reference", apart from our "summary"; CSV, its
own file `<stem>_paper.csv` (data_utils/artifacts/tables.py), so that `<stem>.csv` holds only our rows. Numbers
in CSV and JSON take our CSV's units: ρ a mean rank, every percent as a fraction in [0, 1].

A table off the paper's setup (a pool of one's own, the demo's tiny models) keeps its Markdown and CSV as they are:
why the rows are not shown and every difference go into its JSON (`why_not`, `differences`) and the log.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
import logging
from typing import Any, Generic, NamedTuple, TypeVar

from configs import paper_results as paper
from configs.datasets import GENRES
from configs.models import same_model
from data_utils.artifacts.embeddings import Embedding, read_embedding
from data_utils.artifacts.scores import FinetuneRun

logger = logging.getLogger(__name__)

T = TypeVar("T")
HEADING = "## The paper's reported numbers (reference rows, not computed here)"
TRANSFER_HEADER = [f"{cls.upper()} {scope.replace('_', '-')} {'ρ↓' if metric == 'rho' else 'NDCG↑'}"
                   for cls, scope, metric in paper.TRANSFER_COLUMNS]
PROMPT_HEADER = {"performance": "Performance", "rate": "Rate", "ndcg": "NDCG"}


class Difference(NamedTuple):
    """One way a table's setup differs from the paper's; hides: it makes the paper's numbers incomparable, so they
    are not shown."""

    text: str
    hides: bool = True


@dataclass
class Reference:
    """The paper's rows of one table (table: "transfer" or "prompt"), whether they are shown (why_not: None) and
    what differs from the paper's setup. rows: (id, the paper's name, computed here, the numbers as printed);
    genres: a prompt table's rows' genre, per row."""

    table: str
    rows: list[tuple[str, str, bool, tuple[float | None, ...]]]
    differences: list[Difference]
    genres: list[str] = field(default_factory=list)

    @property
    def why_not(self) -> str | None:
        """The first difference that hides the paper's rows; None when they are shown."""
        return next((d.text for d in self.differences if d.hides), None)

    @property
    def shown(self) -> bool:
        return self.why_not is None

    def columns(self) -> list[str]:
        if self.table == "transfer":
            return ["_".join(column) for column in paper.TRANSFER_COLUMNS]
        return [f"{llm}_{number}" for llm in paper.LLMS for number in paper.PROMPT_NUMBERS]

    def markdown(self) -> str | None:
        """The block: the rows and what differs, or None when they are not shown."""
        if not self.shown:
            return None
        lines = [HEADING, "", f"From {paper.CITATION}, {paper.TABLES[self.table]}, as printed (percent; ρ a mean "
                              f"rank). Rows marked * are methods not computed here.", "", *self._table_markdown(),
                 "", "### What differs from the paper's setup", ""]
        lines += [f"- {d.text}" for d in self.differences] or ["- nothing the records show"]
        return "\n".join(lines) + "\n"

    def _table_markdown(self) -> list[str]:
        if self.table == "transfer":
            header = ["Method (paper)", *TRANSFER_HEADER]
        else:
            header = ["Category", "Method (paper)", *(f"{paper.LLM_NAMES[llm]} {PROMPT_HEADER[number]}"
                                                      for llm in paper.LLMS for number in paper.PROMPT_NUMBERS)]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for index, (_, name, computed, numbers) in enumerate(self.rows):
            cells = [*([self.genres[index].upper()] if self.genres else []), name + ("" if computed else " *"),
                     *("-" if value is None else f"{value:.1f}" for value in numbers)]
            lines.append("| " + " | ".join(cells) + " |")
        return lines

    def csv(self) -> str | None:
        """The rows (units of our CSV), or None when they are not shown."""
        if not self.shown:
            return None
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*(["category"] if self.genres else []), "method", "name", *self.columns()])
        for index, (method, name, _, numbers) in enumerate(self.rows):
            writer.writerow([*([self.genres[index]] if self.genres else []), method, name,
                             *("" if value is None else value for value in self._units(numbers))])
        return buffer.getvalue()

    def _units(self, numbers: Sequence[float | None]) -> list[float | None]:
        """ρ as printed, percents as fractions."""
        kinds = [metric for *_, metric in paper.TRANSFER_COLUMNS] if self.table == "transfer" else [
            number for _ in paper.LLMS for number in paper.PROMPT_NUMBERS]
        return [value if value is None or kind == "rho" else round(value / 100, 6) for value, kind in zip(numbers,
                                                                                                          kinds)]

    def to_json(self) -> dict[str, Any]:
        rows = [{**({"category": self.genres[index]} if self.genres else {}), "method": method, "name": name,
                 "computed_here": computed, "values": dict(zip(self.columns(), self._units(numbers)))}
                for index, (method, name, computed, numbers) in enumerate(self.rows)]
        return {"source": f"{paper.CITATION}, {paper.TABLES[self.table]}", "shown": self.shown, "why_not": self.why_not,
                "rows": rows if self.shown else [], "differences": [d.text for d in self.differences]}


@dataclass
class WithReference(Generic[T]):
    """A table (the Table protocol of data_utils/artifacts/tables.py) with the paper's block after it; every other
    attribute is the table's own, so that it reads as the table does."""

    table: T
    reference: Reference

    def markdown(self) -> str:
        block = self.reference.markdown()
        return self.table.markdown() if block is None else f"{self.table.markdown().rstrip()}\n\n{block}"

    def csv(self) -> str:
        return self.table.csv()

    def extra_files(self) -> dict[str, str | None]:
        """The table's files beside its Markdown and CSV, and the paper's rows (None: not shown; an earlier file of
        them is removed)."""
        return {**self.table.extra_files(), "_paper.csv": self.reference.csv()}

    def to_json(self) -> dict[str, Any]:
        return {**self.table.to_json(), "paper_reference": self.reference.to_json()}

    def summary_markdown(self) -> str:
        return self.table.summary_markdown()

    def __getattr__(self, name: str) -> Any:
        if name in ("table", "reference"):  # not set yet (a copy being built): no delegation
            raise AttributeError(name)
        return getattr(self.table, name)


# ----------------------------------------------------------------------------- the transfer table


def transfer(table: T, runs: Sequence[FinetuneRun], embeddings: Iterable[Embedding]) -> WithReference[T]:
    """The transfer table (its `classes`: task -> cr/qa, `results`: its methods) with the paper's Table A beside it,
    judged on the fine-tunes (`runs`) and `embeddings` it was built from."""
    methods = set(table.results)
    used = [e for e in embeddings if e.method in methods and not e.info.llm]
    plain = [run for run in runs if run.source is None]
    differences = [*_pool_differences(table.classes), *_model_differences(
        "LM (fine-tuned on every set)", [run.about.lm_model_name for run in plain], paper.LM),
        *_model_differences("surrogate", [e.info.surrogate for e in used], paper.SURROGATE),
        *_cut_runs(plain), *_rows_not_here(paper.TRANSFER, methods)]
    rows = [(method, name, method in methods, numbers) for method, (name, numbers) in paper.TRANSFER.items()]
    return _beside(table, Reference("transfer", rows, differences))


def _pool_differences(classes: dict[str, str]) -> list[Difference]:
    wanted = {task: cls for cls, tasks in paper.POOL.items() for task in tasks}
    missing = [task for task in wanted if task not in classes]
    extra = [task for task in classes if task not in wanted]
    moved = [task for task in wanted if task in classes and classes[task] != wanted[task]]
    found = []
    if missing:
        found.append(Difference(f"the paper's sets not in this table (not run, left out, or they did not load): "
                                f"{', '.join(missing)}"))
    if extra:
        boolq = (" (boolq is BoolQ as a CR task; the paper's BoolQ is a QA task, boolq_qa here)" if "boolq" in extra
                 else "")
        found.append(Difference(f"sets not in the paper's pool: {', '.join(extra)}{boolq}"))
    if moved:
        found.append(Difference(f"sets in another class than the paper's: {', '.join(moved)}"))
    return found


def _cut_runs(plain: Sequence[FinetuneRun]) -> list[Difference]:
    cut = sorted((run.about.to_train_dataset, run.about.num_train_examples) for run in plain
                 if run.about.max_train_examples is not None)
    if not cut:
        return []
    return [Difference(f"fine-tuned on a cut of the training split (--max_train_examples; the paper uses all of it): "
                       f"{', '.join(f'{task} {count}' for task, count in cut)} examples", hides=False)]


# ----------------------------------------------------------------------------- the prompt table


def prompt(table: T) -> WithReference[T]:
    """The prompt table (its `prompt_sets`: model, dataset, genre, runs per (LLM, dataset); `sources`: where each
    method's scores came from; `fute_methods`) with the paper's Table B beside it."""
    sets = table.prompt_sets
    models = list(dict.fromkeys(s.model for s in sets))
    differences = []
    others = [m for m in models if not any(same_model(m, llm) for llm in paper.LLMS)]
    if others:
        differences.append(Difference(f"LLMs not the paper's ({', '.join(paper.LLM_NAMES.values())}): "
                                      f"{', '.join(others)}"))
    absent = [paper.LLM_NAMES[llm] for llm in paper.LLMS if not any(same_model(m, llm) for m in models)]
    if absent:
        differences.append(Difference(f"the paper's LLMs not in this table: {', '.join(absent)}", hides=False))
    for model in models:
        for genre in GENRES:
            have = sorted(s.dataset for s in sets if s.model == model and s.genre == genre)
            if have != sorted(paper.LLM_SETS[genre]):
                differences.append(Difference(f"{model} {genre.upper()} datasets: {', '.join(have) or 'none'} (the "
                                              f"paper's: {', '.join(paper.LLM_SETS[genre])})"))
    few = sorted({f"{s.model} on {s.dataset}" for s in sets if len(s.runs) != paper.NUM_PROMPTS})
    if few:
        differences.append(Difference(f"not the paper's {paper.NUM_PROMPTS} prompts: {', '.join(few)}"))
    dtes = {entry["dte"] for by_method in table.sources.values() for entry in by_method.values()
            if isinstance(entry, dict) and "dte" in entry}
    if dtes:  # FUTE rows: their embeddings' surrogate
        differences += _model_differences("surrogate (FUTE rows)",
                                          [read_embedding(dte).info.surrogate for dte in sorted(dtes)], paper.SURROGATE)
    ours = {method for e in table.evaluations for method in e.methods}
    differences += _rows_not_here({m: row for rows in paper.PROMPT.values() for m, row in rows.items()}, ours)
    rows, genres = [], []
    for genre, by_method in paper.PROMPT.items():
        rows += [(method, name, method in ours, numbers) for method, (name, numbers) in by_method.items()]
        genres += [genre] * len(by_method)
    return _beside(table, Reference("prompt", rows, differences, genres))


# ----------------------------------------------------------------------------- shared


def _beside(table: T, reference: Reference) -> WithReference[T]:
    if not reference.shown:
        logger.info("the paper's %s numbers are not shown beside this table (see the JSON's paper_reference): %s",
                    reference.table, reference.why_not)
    return WithReference(table, reference)


def _model_differences(role: str, names: Sequence[str | None], paper_names: tuple[str, ...]) -> list[Difference]:
    """What differs in the model of `role`, from the names the records give it (None where a record predates the
    name; no names at all: nothing records it)."""
    if not names:
        return [Difference(f"{role}: no record of this table names it (the paper's: {paper_names[0]})")]
    found = sorted({name for name in names if name is not None and name not in paper_names})
    unknown = sum(name is None for name in names)
    items = [Difference(f"{role}: {', '.join(found)} (the paper's: {paper_names[0]})")] if found else []
    if unknown:
        items.append(Difference(f"{role}: unknown in {unknown} record(s) written before it was recorded"))
    return items


def _rows_not_here(rows: dict[str, tuple[str, Any]], ours: set[str]) -> list[Difference]:
    missing = list(dict.fromkeys(name for method, (name, _) in rows.items() if method not in ours))
    return [Difference(f"the paper's rows not computed here (marked *): {', '.join(missing)}", hides=False)
            ] if missing else []
