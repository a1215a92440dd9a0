"""The transferability table (the paper's first) from the files of earlier steps.

Truth: the transfer score of every (source, target) pair among the chosen tasks, from the
fine-tuning runs. Predictions: per embedding method, cos(source embedding of s, DTE of t),
where the source embedding is the MTE of the model fine-tuned on s for a FUTE method and
the DTE of s for a baseline (what the method's record says, configs/methods.py); DataSize
ranks by training-set size. task_emb/transfer_eval.py ranks and scores each target.

Missing pairs are an error unless allowed: a target ranked over fewer sources than the
others would get a smaller, easier candidate pool without anyone noticing.

Seeds: every run and embedding names its seed; each seed's targets are ranked with that seed's
scores and embeddings only, then summarised over targets and seeds (task_emb/transfer_eval.py).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from configs.methods import METHODS_BY_ID
from data_utils import comparisons, paper_reference
from data_utils.artifacts import scores
from data_utils.artifacts.data_identity import DataIdentity, TaskLabels, dataset_of
from data_utils.artifacts.embeddings import CosineCache, Embedding, check_same_dim, find_embedding, load_embeddings
from data_utils.artifacts.seeds import check_same_seeds, group_by_seed
from data_utils.errors import FuteError
from data_utils.metrics import NdcgSettings
from data_utils.statistics import Estimate
from task_emb import transfer_eval
from task_emb.transfer_eval import DATASIZE, TargetResult

logger = logging.getLogger(__name__)

Table = dict[str, dict[str, float]]  # [target][source] -> value


@dataclass
class TransferTable:
    """Every method's results (seed -> scope -> target -> TargetResult), their summary over targets and seeds and
    the paired comparisons with the FUTE rows, with the target classes."""

    classes: dict[str, str]
    results: dict[str, dict[int, dict[str, dict[str, TargetResult]]]]
    summaries: dict[str, dict[str, dict[str, dict[str, Estimate]]]]
    paired: list[dict]
    ndcg: NdcgSettings
    notes: list[str] = field(default_factory=list)  # datasets of one name told apart (TaskLabels), embeddings left out

    def summary_markdown(self) -> str:
        return transfer_eval.summary_markdown(self.summaries)

    def markdown(self) -> str:
        seeds = sorted({seed for by_seed in self.results.values() for seed in by_seed})
        parts = ["# Transferability", "",
                 f"ρ: rank of the truly best source (lower is better). {self.ndcg.describe('all ranks')}, in percent. "
                 f"Each cell: the mean over targets (each the mean over seed(s) {', '.join(map(str, seeds))}) ± half "
                 f"the width of its 95% bootstrap interval (bounds in the CSV and JSON; docs/statistics.md).",
                 *[f"\nWarning: {note}." for note in self.notes], "", self.summary_markdown(),
                 "## Ranking metrics", "",
                 "Per target, then averaged as above: regret@k (relative, percent of the best transfer score lost by "
                 "keeping the top k sources), hit@k (percent of targets whose best source is in the top k), NDCG@k "
                 "(percent), Spearman's ρ_s and weighted Kendall τ_w of predicted against true scores; k of 1, 3, 5 "
                 "where a target has more than k sources.", "",
                 transfer_eval.ranking_markdown(self.summaries), transfer_eval.paired_markdown(self.paired)]
        parts += [transfer_eval.targets_markdown(method, self.results[method])
                  for method in transfer_eval.row_order(list(self.results))]
        return "\n".join(parts)

    def csv(self) -> str:
        return transfer_eval.summary_csv(self.summaries)

    def extra_files(self) -> dict[str, str]:
        return {"_paired.csv": comparisons.paired_csv(self.paired, transfer_eval.CELL_COLUMNS)}

    def to_json(self) -> dict:
        return {**self.ndcg.to_json(), "classes": self.classes, "notes": self.notes,
                "summary": {method: {cls: {scope: {metric: e.to_json() for metric, e in metrics.items()}
                                           for scope, metrics in by_scope.items()}
                                     for cls, by_scope in summary.items()}
                            for method, summary in self.summaries.items()},
                "paired": self.paired,
                "targets": {method: {str(seed): {scope: {t: r.to_json() for t, r in by_target.items()}
                                                 for scope, by_target in result.items()}
                                     for seed, result in by_seed.items()}
                            for method, by_seed in self.results.items()}}


def build_transfer_table(emb_dir: str | Path, score_dir: str | Path, tasks: Sequence[str] | None,
                         methods: Sequence[str] | None, datasize: bool, allow_missing_pairs: bool,
                         ndcg: NdcgSettings) -> paper_reference.WithReference[TransferTable]:
    """Read scores and embeddings (each a folder or comma-separated folders), rank the sources of each target per
    method and seed, score the rankings, summarise them over targets and seeds; the paper's rows and setup beside
    them (data_utils/paper_reference.py).

    Tasks are named by their datasets, told apart where one name comes with different data
    (data_utils/artifacts/data_identity.py): an embedding stands for a task only when made from its data.
    Every seed must have every run and embedding of the tasks and methods (a seed lacking one is an error).
    """
    runs = scores.load_finetune_runs(score_dir)
    embeddings = load_embeddings(emb_dir)
    identities = [i for run in runs for i in (run.target, run.source) if i is not None]
    labels = TaskLabels([*identities, *filter(None, map(dataset_of, embeddings))], "the scores and embeddings")
    runs_of = group_by_seed(runs, lambda run: run.seed)
    transfers = {seed: scores.transfer_scores(of_seed, labels) for seed, of_seed in runs_of.items()}
    if not any(transfers.values()):
        found = ", ".join(sorted({labels(run.target) for run in runs}))
        raise FuteError(f"no transfer runs under --score_dir {score_dir}: its {len(runs)} fine-tuning score(s) ({found}) "
                        f"are all plain fine-tunes; the table ranks sources by transfer scores, from runs continued "
                        f"from a source's checkpoint (run_cr_train.py/run_qa_train.py --load_path). Run those, or "
                        f"look at the embeddings without them (run_eval.py space, plot)")
    if tasks is None:
        tasks = sorted({task for truth in transfers.values() for target, row in truth.items()
                        for task in (target, *row)})
    else:
        tasks = labels.named(tasks)
    truths = {seed: restrict(truth, tasks, f"{score_dir} (seed {seed})", allow_missing_pairs)[0]
              for seed, truth in transfers.items()}
    classes = _classes(identities, labels, tasks)
    methods = list(methods or default_methods(embeddings, tasks, emb_dir, labels.of))
    embeddings_of = group_by_seed((e for e in embeddings if e.method in methods), lambda e: e.info.seed)
    check_same_seeds({"fine-tuning scores": runs_of, "embeddings": embeddings_of})

    results: dict[str, dict[int, dict]] = {}
    for seed, truth in truths.items():
        where = f"{score_dir} (seed {seed})"
        pairs = {target: sorted(sources) for target, sources in truth.items()}
        predicted = {method: similarity_table(embeddings_of[seed], method, pairs, f"{emb_dir} (seed {seed})",
                                              labels.of) for method in methods}
        if datasize:
            predicted[DATASIZE] = datasize_table(scores.train_sizes(runs_of[seed], labels), pairs, where)
        for method, table in predicted.items():
            results.setdefault(method, {})[seed] = transfer_eval.evaluate_method(table, truth, classes, ndcg.gain,
                                                                                ndcg.k, ndcg.scale)
    summaries = {method: transfer_eval.summarise(by_seed) for method, by_seed in results.items()}
    ours = TransferTable(classes, results, summaries, transfer_eval.paired_rows(results), ndcg,
                         [*labels.notes, *embeddings.skipped])
    return paper_reference.transfer(ours, runs, embeddings)


def _classes(identities: Sequence[DataIdentity], labels: TaskLabels, tasks: Sequence[str]) -> dict[str, str]:
    """Each task's class (cr / qa), as the records of its runs say."""
    classes = {labels(i): i.task_class for i in identities if i.task_class}
    unknown = [task for task in tasks if task not in classes]
    if unknown:
        raise FuteError(f"the class (cr/qa) of {unknown[0]} is unknown: it is not a registry dataset and its records "
                        f"predate recorded data; re-run its fine-tune or leave it out of --tasks")
    return {task: classes[task] for task in tasks}


def restrict(truth: Table, tasks: Sequence[str] | None, score_dir: str | Path,
             allow_missing: bool) -> tuple[Table, list[str]]:
    """The transfer scores among `tasks` (default: every dataset in them), and the tasks.

    A listed task with no score at all is an error; so is a missing (source, target) pair
    among the tasks, unless allow_missing (then a warning lists them).
    """
    if tasks is None:
        tasks = sorted({t for t in truth} | {s for row in truth.values() for s in row})
    kept = {t: {s: v for s, v in truth[t].items() if s in tasks and s != t} for t in tasks if t in truth}
    kept = {t: row for t, row in kept.items() if row}
    involved = set(kept) | {s for row in kept.values() for s in row}
    for task in tasks:
        if task not in involved:
            raise FuteError(f"no transfer score involves {task} (as source or target) among --tasks in {score_dir}; "
                            f"run the transfer fine-tuning or drop {task} from --tasks")
    missing = {t: [s for s in sorted(tasks) if s != t and s not in kept.get(t, {})] for t in sorted(tasks)}
    missing = {t: sources for t, sources in missing.items() if sources}
    if missing:
        count = sum(len(sources) for sources in missing.values())
        listed = "; ".join(f"{t} from {', '.join(sources)}" for t, sources in missing.items())
        if not allow_missing:
            raise FuteError(f"{count} transfer pair(s) among the tasks have no score in {score_dir}: {listed}; run "
                            f"them, drop tasks with --tasks, or pass --allow_missing_pairs True to rank each target "
                            f"over the sources it has")
        logger.warning("%d transfer pair(s) have no score, so those targets are ranked over fewer sources: %s",
                       count, listed)
    return kept, sorted(tasks)


def default_methods(embeddings: Sequence[Embedding], tasks: Sequence[str], emb_dir: str | Path,
                    label: Callable[[Embedding], str] = lambda e: e.dataset) -> list[str]:
    """Every method with a DTE of at least one task (as `label` names it); the others (e.g. LLM-only
    embeddings) are skipped."""
    methods = sorted({e.method for e in embeddings})
    chosen = sorted({e.method for e in embeddings if e.kind == "DTE" and label(e) in tasks})
    skipped = [m for m in methods if m not in chosen]
    if skipped:
        logger.warning("methods with no DTE of any of the tasks in %s are skipped: %s (choose with --methods)",
                       emb_dir, ", ".join(skipped))
    if not chosen:
        raise FuteError(f"no DTE of any of the tasks {', '.join(tasks)} in {emb_dir}; check --emb_dir and --tasks")
    return chosen


def source_kind(method: str, embeddings: Sequence[Embedding]) -> str:
    """MTE for a FUTE method (the model fine-tuned on s against the DTE of t), DTE for a baseline; a method
    configs/methods.py does not list is what its records say."""
    known = METHODS_BY_ID.get(method)
    fute = {known.fute} if known else {e.info.fute for e in embeddings if e.method == method}
    if len(fute) != 1:
        raise FuteError(f"the records of method {method} disagree on whether it is a FUTE method; keep one kind")
    return "MTE" if fute.pop() else "DTE"


def similarity_table(embeddings: Sequence[Embedding], method: str, pairs: dict[str, Sequence[str]],
                     folder: str | Path, label: Callable[[Embedding], str] | None = None) -> Table:
    """predicted[t][s] = cosine(source embedding of s, DTE of t) for every target t and its sources s (tasks as
    `label` names embeddings; by default by their datasets' names)."""
    kind = source_kind(method, embeddings)
    targets = {t: find_embedding(embeddings, method, "DTE", t, folder, task_of=label) for t in pairs}
    sources = {s: find_embedding(embeddings, method, kind, s, folder, task_of=label)
               for srcs in pairs.values() for s in srcs}
    check_same_dim([*targets.values(), *sources.values()], f"method {method}")
    cache = CosineCache()
    return {t: {s: cache.cosine(sources[s], targets[t]) for s in srcs} for t, srcs in pairs.items()}


def datasize_table(sizes: dict[str, int], pairs: dict[str, Sequence[str]], score_dir: str | Path) -> Table:
    """predicted[t][s] = training-set size of s (bigger = predicted better)."""
    for source in sorted({s for sources in pairs.values() for s in sources}):
        if source not in sizes:
            raise FuteError(f"DataSize needs the plain fine-tuning run of {source} (no --load_path) in {score_dir}; "
                            f"run it or pass --datasize False")
    return {t: {s: float(sizes[s]) for s in sources} for t, sources in pairs.items()}
