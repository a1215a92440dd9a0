"""The prompt-selection table (the paper's second) from the files of earlier steps.

Truth: per (LLM, dataset), the 13 inference files and each prompt's actual task metric
(llm_inference/selection_files.py). Each method scores the 13 prompts:

- a baseline (MI, LocalE, ..., SPELL) by its score file from run_prompt_selection_baselines.py.
  A score file counts only if it was computed from the very inference files found here: its
  record's inputs_sha256 must equal their fingerprint (selection_files.PromptSet.fingerprint);
  two files for one (LLM, dataset), or none, are errors.
- FUTE by cos(MTE of the LLM under prompt p, DTE of the dataset), one method (prefix-fute,
  fim-fute, ...) at a time; the LLM may be named by alias or hub id on either side.

Beside each (LLM, dataset), per prompt: its Performance and how many of its answers begin
with a word that is no verbalizer (the verbalizer scores were then read where the model wrote
something else); a prompt where they are more than half is warned about under the summary
and in the log.

Seeds: the inference files name their seed; each (LLM, dataset, seed) is evaluated with the baseline
scores of those files and that seed's embeddings, then summarised over datasets and seeds.

llm_inference/selection_eval.py turns the scores into Performance, Rate, NDCG and the ranking metrics.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from configs.methods import method_order, paper_name
from configs.models import same_model
from data_utils import paper_reference
from data_utils.artifacts.embeddings import (CosineCache, Embedding, check_same_dim, find_embedding, load_embeddings,
                                             the_only)
from data_utils.artifacts.llm_outputs import NOT_AN_ANSWER, most_of
from data_utils.artifacts.seeds import folders, group_by_seed
from data_utils.artifacts.selection_scores import is_selection_scores, read_selection_scores
from data_utils.comparisons import paired_csv
from data_utils.errors import FuteError
from data_utils.io import read_json
from data_utils.metrics import NdcgSettings
from llm_inference import selection_baselines, selection_eval, selection_files
from llm_inference.selection_files import PromptSet

logger = logging.getLogger(__name__)

Key = tuple[str, str, int]  # (LLM, dataset, seed)


def key_of(s: PromptSet) -> Key:
    return s.model, s.dataset, s.seed


@dataclass
class PromptTable:
    """Every (LLM, dataset, seed) evaluated, the averages per LLM and genre, the paired comparisons with the FUTE
    rows, and where each method's scores came from."""

    prompt_sets: list[PromptSet]
    evaluations: list[selection_eval.DatasetEvaluation]
    summary: dict
    sources: dict[Key, dict[str, object]]
    fute_methods: list[str]
    ndcg: NdcgSettings
    paired: list[dict]

    @property
    def order(self) -> list[str]:
        return [*selection_baselines.table_order(), *method_order(self.fute_methods)]

    @property
    def names(self) -> dict[str, str]:
        return {**selection_baselines.paper_names(), **{m: paper_name(m) for m in self.fute_methods}}

    def summary_markdown(self) -> str:
        return selection_eval.summary_markdown(self.summary, self.order, self.names)

    def markdown(self) -> str:
        parts = ["# Prompt selection", "",
                 "Performance: the task metric (SA accuracy, NLI macro-F1) of the selected prompt; Rate: Performance / "
                 f"the best prompt's; {self.ndcg.describe('all prompts')} of the method's ranking. In percent, "
                 "averaged over each genre's datasets (their number per LLM in the *datasets averaged* rows). Under "
                 "each LLM and dataset, every prompt's Performance and how many of its answers began with a word that "
                 "is no verbalizer. Each cell: the mean over datasets (each the mean over seeds "
                 f"{', '.join(map(str, sorted({e.seed for e in self.evaluations})))}) ± half the width of its 95% "
                 "bootstrap interval (bounds in the CSV and JSON; docs/statistics.md).", "",
                 self.summary_markdown(), *self.tie_notes(), *(f"{note}\n" for note in self.answer_notes()),
                 "## Ranking metrics", "",
                 "Per (LLM, dataset), then averaged as above: regret@k (relative, percent of the best prompt's "
                 "Performance lost by keeping the top k prompts), hit@k (percent of datasets whose best prompt is in "
                 "the top k), NDCG@k (percent), Spearman's ρ_s and weighted Kendall τ_w of the method's scores "
                 "against Performance; k of 1, 3, 5.", "",
                 selection_eval.ranking_markdown(self.summary, self.order, self.names),
                 selection_eval.paired_markdown(self.paired, self.names)]
        for e, s in zip(self.evaluations, self.prompt_sets):
            parts += [f"## {e.model} on {e.dataset}, seed {e.seed} ({e.metric}; best prompt(s) "
                      f"{', '.join(map(str, e.best_prompts))})",
                      "", "| method | selected | Performance | Rate | NDCG |", "|---|---|---|---|---|"]
            for method in [m for m in self.order if m in e.methods]:
                r = e.methods[method]
                parts.append(f"| {self.names.get(method, method)} | {r.selected} | {100 * r.performance:.1f} | "
                             f"{100 * r.rate:.1f} | {100 * r.ndcg:.1f} |")
            parts += ["", *prompt_rows(e.performance, s.non_verbalizer_answers, s.num_examples), ""]
        return "\n".join(parts)

    def tie_notes(self) -> list[str]:
        """A line per (LLM, dataset) on which every prompt scores the same, whose rows then say nothing."""
        return [f"Note: every prompt of {e.model} scores {100 * e.performance[0]:.1f} on {e.dataset}, seed {e.seed} "
                f"(e.g. one class "
                f"predicted for every example), so there every method has Rate 100 and NDCG 100: that dataset cannot "
                f"tell the methods apart.\n" for e in self.evaluations if e.prompts_tie]

    def answer_notes(self) -> list[str]:
        """A warning per (LLM, dataset) with prompts most of whose answers begin with no verbalizer."""
        notes = []
        for s in self.prompt_sets:
            total = s.num_examples
            most = [(p, n) for p, n in enumerate(s.non_verbalizer_answers) if n is not None and most_of(n, total)]
            if most:
                listed = ", ".join(f"{p} ({n} of {total})" for p, n in most)
                notes.append(f"Warning: most answers of {s.model} on {s.dataset} under prompt(s) {listed} begin with "
                             f"a word that is no verbalizer: {NOT_AN_ANSWER}, so those prompts' Performance, and "
                             f"every method's choice among them, say little of the model.")
        return notes

    def csv(self) -> str:
        return selection_eval.summary_csv(self.summary, self.order, self.names)

    def extra_files(self) -> dict[str, str]:
        return {"_paired.csv": paired_csv(self.paired, selection_eval.CELL_COLUMNS)}

    def to_json(self) -> dict:
        return {**self.ndcg.to_json(), "summary": selection_eval.summary_json(self.summary), "paired": self.paired,
                "datasets": [{**e.to_json(), "inference_files": [str(run.path) for run in s.runs],
                              "num_examples": s.num_examples, "non_verbalizer_answers": s.non_verbalizer_answers,
                              "score_sources": self.sources[key_of(s)]}
                             for e, s in zip(self.evaluations, self.prompt_sets)]}


def build_prompt_table(inference_dir: str | Path, baseline_scores: str | None, emb_dir: str | Path | None,
                       fute_methods: Sequence[str] | None,
                       ndcg: NdcgSettings) -> paper_reference.WithReference[PromptTable]:
    """Per (LLM, dataset): each method's selected prompt, Performance, Rate, NDCG; averages per LLM and genre."""
    if baseline_scores is None and emb_dir is None:
        raise FuteError("nothing to evaluate: pass --baseline_scores, --emb_dir or both")
    prompt_sets = selection_files.find_prompt_sets(inference_dir)
    scores: dict[Key, dict[str, list[float]]] = {key_of(s): {} for s in prompt_sets}
    sources: dict[Key, dict[str, object]] = {key: {} for key in scores}
    if baseline_scores is not None:
        add_baseline_scores(scores, sources, prompt_sets, baseline_scores)
    methods: list[str] = []
    if emb_dir is not None:
        methods = add_fute_scores(scores, sources, prompt_sets, emb_dir, fute_methods)
    evaluations = [selection_eval.evaluate_dataset(s.model, s.dataset, s.genre, s.metric, s.performance(),
                                                   scores[key_of(s)], ndcg, s.seed) for s in prompt_sets]
    table = PromptTable(prompt_sets, evaluations, selection_eval.summarise(evaluations), sources, methods, ndcg,
                        selection_eval.paired_rows(evaluations, methods))
    for note in table.answer_notes():
        logger.warning(note)
    return paper_reference.prompt(table)  # the paper's rows and setup beside ours


def prompt_rows(performance: Sequence[float], non_verbalizer: Sequence[int | None], total: int) -> list[str]:
    """The per-prompt table of one (LLM, dataset): Performance (percent) and answers that are no verbalizer
    (count of `total`; "-" where the files do not say)."""
    cells = [f"{n}/{total}" if n is not None else "-" for n in non_verbalizer]
    return [f"| prompt | {' | '.join(map(str, range(len(performance))))} |", "|---" * (len(performance) + 1) + "|",
            f"| Performance | {' | '.join(f'{100 * v:.1f}' for v in performance)} |",
            f"| answers no verbalizer | {' | '.join(cells)} |"]


def baseline_files(spec: str) -> list[Path]:
    """--baseline_scores: comma-separated folders (every JSON under each) and files."""
    paths = []
    for path in map(Path, folders(spec, "--baseline_scores")):
        if not (path.is_dir() or path.is_file()):
            raise FuteError(f"--baseline_scores: {path} is neither a folder nor a file")
        paths += sorted(path.rglob("*.json")) if path.is_dir() else [path]
    return paths


def add_baseline_scores(scores: dict[Key, dict], sources: dict[Key, dict], prompt_sets: Sequence[PromptSet],
                        spec: str) -> None:
    """scores[(model, dataset, seed)][key] = the baseline's 13 scores, from the score files that match the prompt
    sets (the seed: the score run's, which a sweep runs with its inference files' seed)."""
    fingerprints = {key_of(s): s.fingerprint() for s in prompt_sets}
    order = selection_baselines.table_order()
    found: dict[Key, Path] = {}
    for path in baseline_files(spec):
        content = read_json(path)
        if not is_selection_scores(content):
            continue  # not a baseline score file (a record, an inference file, ...)
        baseline = read_selection_scores(path, content)
        key = (baseline.model, baseline.dataset, baseline.seed)
        if key not in scores:
            logger.warning("%s: scores of %s on %s, seed %d, which have no inference files in --inference_dir; "
                           "ignored", path, *key)
            continue
        if key in found:
            raise FuteError(f"two baseline score files for {key[0]} on {key[1]}, seed {key[2]}: {found[key]} and "
                            f"{path}; keep one")
        if baseline.inputs_sha256 != fingerprints[key]:
            raise FuteError(f"{path} was not computed from the inference files of {key[0]} on {key[1]} in "
                            f"--inference_dir of seed {key[2]} (their fingerprint differs from its record's "
                            f"inputs_sha256); re-run run_prompt_selection_baselines.py on them")
        found[key] = path
        unknown = sorted(set(baseline.scores) - set(order))
        if unknown:
            logger.warning("%s: scores of %s, no baseline of llm_inference/selection_baselines.py; left out of the "
                           "table", path, ", ".join(unknown))
        for method in [method for method in order if method in baseline.scores]:
            scores[key][method] = baseline.scores[method]
            sources[key][method] = str(path)
    missing = sorted(set(scores) - set(found))
    if missing:
        listed = ", ".join(f"{model} on {dataset} (seed {seed})" for model, dataset, seed in missing)
        raise FuteError(f"no baseline scores for {listed} in {spec}; run run_prompt_selection_baselines.py for them")


def add_fute_scores(scores: dict[Key, dict], sources: dict[Key, dict], prompt_sets: Sequence[PromptSet],
                    emb_dir: str | Path, methods: Sequence[str] | None) -> list[str]:
    """scores[(model, dataset, seed)][method] = [cos(MTE of model + prompt p, DTE of dataset) for p in 0..12], with the
    embeddings of that seed."""
    embeddings = load_embeddings(emb_dir)
    of_seed = group_by_seed(embeddings, lambda e: e.info.seed)
    cache = CosineCache()  # an LLM's 13 MTEs serve every dataset of the genre: one norm each
    methods = list(methods or sorted({e.method for e in embeddings if e.info.llm}))
    if not methods:
        raise FuteError(f"no LLM + prompt MTEs (run_task_emb.py --llm_mode True) under {emb_dir}; check --emb_dir")
    for s in prompt_sets:
        where = f"{emb_dir} (seed {s.seed})" if len(of_seed) > 1 or s.seed not in of_seed else emb_dir
        for method in methods:
            dte = find_embedding(of_seed.get(s.seed, []), method, "DTE", s.dataset, where, "--fute_methods")
            mtes = [llm_mte(of_seed[s.seed], method, s.model, p, s.genre, where) for p in range(len(s.runs))]
            check_same_dim([dte, *mtes], f"method {method}")
            scores[key_of(s)][method] = [cache.cosine(mte, dte) for mte in mtes]
            sources[key_of(s)][method] = {"dte": str(dte.path), "mtes": [str(mte.path) for mte in mtes]}
    return methods


def llm_mte(embeddings: Sequence[Embedding], method: str, model: str, prompt: int, genre: str,
            emb_dir: str | Path) -> Embedding:
    """The MTE of (LLM, prompt) for the genre, by its record; missing or ambiguous is an error."""
    found = [e for e in embeddings if e.method == method and e.info.llm and e.genre == genre
             and e.info.prompt == prompt and e.info.model is not None and same_model(e.info.model, model)]
    return the_only(found,
                    missing=f"missing embedding: no {genre} MTE of method {method} for LLM {model} prompt "
                            f"{prompt} in {emb_dir}; compute it with run_task_emb.py --llm_mode True "
                            f"--task_type {genre}",
                    what=f"{genre} MTEs of method {method} for LLM {model} prompt {prompt}")
