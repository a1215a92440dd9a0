"""Evaluation: turn finished embeddings and scores into the paper's tables and plots.

Subcommands:
    transfer  the transferability table (rho and NDCG, in-class and all-class, per method)
    plot      cosine-similarity heatmap + PCA and t-SNE projections of a set of embeddings
    prompt    the prompt-selection table (Performance, Rate and NDCG per method, per LLM, SA and NLI)

Examples:
    python run_eval.py transfer --emb_dir=./result/emb --score_dir=./result/scores \
        --save_path=./result/eval/transfer --ndcg_gain=linear
    python run_eval.py plot --emb_dir=./result/emb --method=prefix-fute --save_path=./result/eval/prefix_fute
    python run_eval.py prompt --inference_dir=./result/llm --baseline_scores=./result/ps \
        --emb_dir=./result/llm_emb --save_path=./result/eval/prompt
"""
from __future__ import annotations

import argparse
import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from configs.datasets import GENRES
from configs.models import MODEL_ALIASES
from data_utils import cli
from data_utils.errors import FuteError
from data_utils.io import atomic_open, read_json, run_record, write_json
from llm_inference import selection_eval, selection_files
from task_emb import records, space_eval, transfer_eval
from task_emb.plots import plot_embeddings, plot_heatmap

logger = logging.getLogger(__name__)

_SUFFIXES = (".md", ".csv", ".json", ".png")


def _csv_list(value: str) -> list[str]:
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list, got nothing")
    return items


def _stem(save_path: str) -> Path:
    """--save_path is a stem; a known extension given by habit is dropped."""
    path = Path(save_path)
    return path.with_suffix("") if path.suffix in _SUFFIXES else path


def _output(stem: Path, suffix: str) -> Path:
    """<stem><suffix>, appended to the full name: a dot in the stem (k0.5, llama-2.0) stays."""
    return stem.with_name(stem.name + suffix)


# ---------------------------------------------------------------- transfer


def add_transfer_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--emb_dir", required=True,
                        help="folder (searched recursively) of task embeddings: <name>.npy + <name>.record.json")
    parser.add_argument("--score_dir", required=True,
                        help="folder (searched recursively) of fine-tuning scores: <score>.json + <score>.record.json "
                             "from run_cr_train.py/run_qa_train.py, plain and transfer runs")
    parser.add_argument("--save_path", required=True,
                        help="output stem: writes <stem>.md (tables), <stem>.csv (summary), <stem>.json (everything)")
    parser.add_argument("--tasks", type=_csv_list, default=None,
                        help="comma-separated datasets to evaluate (sources and targets); default: every dataset "
                             "in the transfer scores. Each one needs an embedding for every method")
    parser.add_argument("--methods", type=_csv_list, default=None,
                        help="comma-separated embedding methods from the records (e.g. prefix-baseline,prefix-fute,"
                             "fim-baseline,fim-fute,textemb); default: every method in --emb_dir with a DTE of "
                             "at least one of the tasks (others, e.g. LLM-only methods, are skipped with a warning)")
    parser.add_argument("--datasize", type=cli.str2bool, default=True,
                        help="add the DataSize baseline (rank sources by training-set size, from the plain "
                             "fine-tuning runs) (True/False)")
    parser.add_argument("--allow_missing_pairs", type=cli.str2bool, default=False,
                        help="rank each target over the sources that have a transfer score, with a warning listing "
                             "the missing (source, target) pairs among the tasks; default False: missing pairs are "
                             "an error (True/False)")
    _add_ndcg_args(parser, relevance="a transfer score", ranked="sources", default_k="all")


def _add_ndcg_args(parser: argparse.ArgumentParser, relevance: str, ranked: str, default_k: str) -> None:
    parser.add_argument("--ndcg_gain", choices=transfer_eval.GAINS, default="linear",
                        help=f"NDCG gain of {relevance} rel (times --ndcg_scale): linear = rel (as "
                             "sklearn.metrics.ndcg_score), exponential = 2^rel - 1; the discount is 1/log2(rank + 1)")
    parser.add_argument("--ndcg_k", type=int, default=None,
                        help=f"NDCG cut-off: only the top k ranked {ranked} count (default: {default_k})")
    parser.add_argument("--ndcg_scale", type=float, default=1.0,
                        help="relevance is multiplied by this before the gain: 1 (default) = scores in [0, 1], "
                             "100 = percent points; only the exponential gain changes (the slides' NDCG values "
                             "are consistent with --ndcg_gain exponential --ndcg_scale 100)")


def _check_ndcg_args(args: argparse.Namespace) -> None:
    if args.ndcg_k is not None and args.ndcg_k < 1:
        raise FuteError(f"--ndcg_k must be at least 1, got {args.ndcg_k}")
    if not args.ndcg_scale > 0:
        raise FuteError(f"--ndcg_scale must be positive (1 or 100), got {args.ndcg_scale}")


def _ndcg_description(args: argparse.Namespace, everything: str) -> str:
    cutoff = everything if args.ndcg_k is None else f"top {args.ndcg_k}"
    scale = "" if args.ndcg_scale == 1 else f", relevance x {args.ndcg_scale:g}"
    return f"NDCG ({args.ndcg_gain} gain{scale}, {cutoff})"


def _report_head(args: argparse.Namespace, argv: Sequence[str] | None) -> dict:
    """The first keys of a table's JSON: how it was made, and the NDCG settings it used."""
    return {"record": run_record(dict(vars(args)), argv, __file__),
            "ndcg_gain": args.ndcg_gain, "ndcg_k": args.ndcg_k, "ndcg_scale": args.ndcg_scale}


def run_transfer(args: argparse.Namespace, argv: Sequence[str] | None) -> dict:
    """Read scores and embeddings, rank sources for each target per method, write markdown/CSV/JSON."""
    _check_ndcg_args(args)
    stem = _stem(args.save_path)

    # Ground truth: the transfer score of every (source, target) among the chosen tasks.
    runs = records.load_finetune_runs(args.score_dir)
    truth, tasks = _restrict(records.transfer_scores(runs), args.tasks, args.score_dir, args.allow_missing_pairs)
    classes = {task: records.task_class(task) for task in tasks}
    pairs = {target: sorted(sources) for target, sources in truth.items()}

    # What each method predicts for every (source, target) pair.
    embeddings = records.load_embeddings(args.emb_dir)
    methods = args.methods or _default_methods(embeddings, tasks, args.emb_dir)
    predicted = {method: records.similarity_table(embeddings, method, pairs, args.emb_dir) for method in methods}
    if args.datasize:
        predicted[transfer_eval.DATASIZE] = _datasize_table(records.train_sizes(runs), pairs, args.score_dir)

    # Rank and score.
    results = {method: transfer_eval.evaluate_method(table, truth, classes, args.ndcg_gain, args.ndcg_k,
                                                     args.ndcg_scale)
               for method, table in predicted.items()}
    summaries = {method: transfer_eval.summarise(result) for method, result in results.items()}

    report = {
        **_report_head(args, argv),
        "classes": classes,
        "summary": summaries,
        "targets": {method: {scope: {t: r.to_json() for t, r in by_target.items()}
                             for scope, by_target in result.items()} for method, result in results.items()},
    }
    _write_text(_output(stem, ".md"), _markdown(summaries, results, args))
    _write_text(_output(stem, ".csv"), transfer_eval.summary_csv(summaries))
    write_json(_output(stem, ".json"), report)
    logger.info("transfer table:\n%s", transfer_eval.summary_markdown(summaries))
    return report


def _restrict(truth: dict[str, dict[str, float]], tasks: list[str] | None, score_dir: str,
              allow_missing: bool) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Keep the transfer scores among `tasks` (default: every dataset in them).

    A listed task with no score at all is an error. So is a missing (source, target) pair
    among the tasks, unless allow_missing: a target ranked over fewer sources than the
    others would get a smaller, easier candidate pool without anyone noticing.
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


def _default_methods(embeddings: list[records.Embedding], tasks: list[str], emb_dir: str) -> list[str]:
    """Every method with a DTE of at least one task; the others (e.g. LLM-only FUTE methods) are skipped."""
    methods = sorted({e.method for e in embeddings})
    chosen = sorted({e.method for e in embeddings if e.kind == "DTE" and e.task in tasks})
    skipped = [m for m in methods if m not in chosen]
    if skipped:
        logger.warning("methods with no DTE of any of the tasks in %s are skipped: %s (choose with --methods)",
                       emb_dir, ", ".join(skipped))
    if not chosen:
        raise FuteError(f"no DTE of any of the tasks {', '.join(tasks)} in {emb_dir}; check --emb_dir and --tasks")
    return chosen


def _datasize_table(sizes: dict[str, int], pairs: dict[str, list[str]], score_dir: str) -> dict[str, dict[str, float]]:
    """predicted[t][s] = training-set size of s (bigger = predicted better)."""
    for source in sorted({s for sources in pairs.values() for s in sources}):
        if source not in sizes:
            raise FuteError(f"DataSize needs the plain fine-tuning run of {source} (no --load_path) in {score_dir}; "
                            f"run it or pass --datasize False")
    return {t: {s: float(sizes[s]) for s in sources} for t, sources in pairs.items()}


def _markdown(summaries, results, args: argparse.Namespace) -> str:
    parts = ["# Transferability", "",
             f"ρ: rank of the truly best source (lower is better). {_ndcg_description(args, 'all ranks')}, "
             f"in percent.",
             "", transfer_eval.summary_markdown(summaries)]
    parts += [transfer_eval.targets_markdown(method, results[method])
              for method in transfer_eval.method_order(list(results))]
    return "\n".join(parts)


def _write_text(path: Path, text: str) -> None:
    with atomic_open(path) as handle:
        handle.write(text)
    logger.info("wrote %s", path)


# ---------------------------------------------------------------- plot


def add_plot_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--emb_dir", required=True,
                        help="folder (searched recursively) of task embeddings: <name>.npy + <name>.record.json")
    parser.add_argument("--save_path", required=True,
                        help="output stem: writes <stem>_heatmap.png, <stem>_pca.png, <stem>_tsne.png and "
                             "<stem>.record.json")
    parser.add_argument("--method", default=None,
                        help="embedding method to plot (e.g. prefix-fute); required when --emb_dir holds several")
    parser.add_argument("--kinds", type=_csv_list, default=list(records.KINDS),
                        help="comma-separated kinds to include: DTE, MTE or both (default)")
    parser.add_argument("--tasks", type=_csv_list, default=None,
                        help="comma-separated tasks to include (as in the records, e.g. mrpc or llama-13b:p3); "
                             "default: all")
    parser.add_argument("--title", default=None, help="figure title (default: the method)")


def run_plot(args: argparse.Namespace, argv: Sequence[str] | None) -> dict[str, Path]:
    """Select embeddings of one method, draw heatmap + PCA + t-SNE."""
    embeddings = records.load_embeddings(args.emb_dir)
    methods = sorted({e.method for e in embeddings})
    method = args.method or (methods[0] if len(methods) == 1 else None)
    if method is None:
        raise FuteError(f"{args.emb_dir} holds embeddings of several methods ({', '.join(methods)}); choose one "
                        f"with --method")
    chosen = [e for e in embeddings if e.method == method and e.kind in args.kinds
              and (args.tasks is None or e.task in args.tasks)]
    if args.tasks:
        missing = sorted(set(args.tasks) - {e.task for e in chosen})
        if missing:
            raise FuteError(f"missing embedding: no {'/'.join(args.kinds)} of method {method} for task(s) "
                            f"{', '.join(missing)} in {args.emb_dir}")
    if not chosen:
        raise FuteError(f"no {'/'.join(args.kinds)} embeddings of method {method} in {args.emb_dir}; check --method "
                        f"and --kinds (methods there: {', '.join(methods)})")
    records.check_same_dim(chosen, f"method {method}")
    stem = _stem(args.save_path)
    paths = plot_embeddings(chosen, stem, seed=args.seed, title=args.title or method)
    config = dict(vars(args), embeddings=[str(e.path) for e in chosen])
    write_json(_output(stem, ".record.json"),
               run_record(config, argv, __file__))
    return paths


# ---------------------------------------------------------------- space


def add_space_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--emb_dir", required=True,
                        help="folder (searched recursively) of task embeddings: DTEs and MTEs of one or more methods")
    parser.add_argument("--save_path", required=True,
                        help="output stem: writes <stem>.md, <stem>.csv (summary), <stem>_ranks.csv, <stem>.json, "
                             "<stem>_<method>_heatmap.png and <stem>.record.json")
    parser.add_argument("--methods", type=_csv_list, default=None,
                        help="comma-separated methods (default: every method with both DTEs and MTEs)")
    parser.add_argument("--displacement", type=cli.str2bool, default=True,
                        help="also rank by the displacements e - e0 from the shared prefix initialisation (prefix "
                             "methods; needs the surrogate named in the records, to rebuild e0)")


def run_space(args: argparse.Namespace, argv: Sequence[str] | None) -> dict:
    """Own-task and family ranks of every MTE among its method's DTEs, raw and as displacements."""
    chosen = space_eval.select(records.load_embeddings(args.emb_dir), args.methods, args.emb_dir)
    stem = _stem(args.save_path)
    ranks, plots = [], {}
    for method, (mtes, dtes) in chosen.items():
        e0 = space_eval.initial_embedding_of(method, [*mtes, *dtes]) if args.displacement else None
        ranks.extend(space_eval.evaluate_method(method, mtes, dtes, e0))
        view = "displacement from e0" if e0 is not None else "raw"
        plots[method] = plot_heatmap(space_eval.similarity_matrix(mtes, dtes, e0), [m.task for m in mtes],
                                     _output(stem, f"_{method}_heatmap.png"), f"{method}: MTEs x DTEs, cosine ({view})",
                                     column_labels=[d.task for d in dtes])
    summary = space_eval.summarise(ranks)
    rank_rows = [vars(r) for r in ranks]
    _write_text(_output(stem, ".md"), "# Unified space\n\n" + space_eval.summary_markdown(summary)
                + "\n## Per MTE\n\n" + space_eval.ranks_markdown(ranks))
    _write_text(_output(stem, ".csv"), space_eval.as_csv(space_eval.SUMMARY_COLUMNS, summary))
    _write_text(_output(stem, "_ranks.csv"), space_eval.as_csv(space_eval.RANK_COLUMNS, rank_rows))
    report = {"summary": summary, "ranks": rank_rows}
    write_json(_output(stem, ".json"), report)
    write_json(_output(stem, ".record.json"), run_record(dict(vars(args)), argv, __file__))
    logger.info("unified space:\n%s", space_eval.summary_markdown(summary))
    return {**report, "plots": plots}


# ---------------------------------------------------------------- prompt


def add_prompt_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inference_dir", required=True,
                        help="folder (searched recursively) of run_llm_inference.py outputs: 13 prompts per "
                             "(LLM, dataset), recognised by their top-level keys (file names do not matter)")
    parser.add_argument("--baseline_scores", default=None,
                        help="folder (searched recursively) or comma-separated files of "
                             "run_prompt_selection_baselines.py outputs, one per (LLM, dataset); "
                             "default: no baseline rows")
    parser.add_argument("--emb_dir", default=None,
                        help="folder (searched recursively) of task embeddings for the FUTE rows: an MTE per "
                             "LLM + prompt (run_task_emb.py --llm_mode True) and a DTE per dataset, same method; "
                             "default: no FUTE rows")
    parser.add_argument("--fute_methods", type=_csv_list, default=None,
                        help="comma-separated embedding methods for FUTE rows (e.g. prefix-fute,fim-fute); "
                             "default: every method with LLM MTEs in --emb_dir")
    parser.add_argument("--save_path", required=True,
                        help="output stem: writes <stem>.md (tables), <stem>.csv (summary), <stem>.json (everything)")
    _add_ndcg_args(parser, relevance="a prompt's performance", ranked="prompts", default_k="all 13")


def run_prompt(args: argparse.Namespace, argv: Sequence[str] | None) -> dict:
    """Per (LLM, dataset): each method's selected prompt, Performance, Rate, NDCG; averages per LLM and genre."""
    _check_ndcg_args(args)
    if args.baseline_scores is None and args.emb_dir is None:
        raise FuteError("nothing to evaluate: pass --baseline_scores, --emb_dir or both")
    stem = _stem(args.save_path)

    # Ground truth: the 13 inference files of every (LLM, dataset) and each prompt's actual metric.
    prompt_sets = selection_files.find_prompt_sets(args.inference_dir)

    # Each method's score per prompt: baselines from their files, FUTE = cosine(MTE of LLM + prompt, DTE).
    scores = {(s.model, s.dataset): {} for s in prompt_sets}
    sources: dict[tuple[str, str], dict[str, object]] = {key: {} for key in scores}
    if args.baseline_scores is not None:
        _add_baseline_scores(scores, sources, prompt_sets, args.baseline_scores)
    fute_methods: list[str] = []
    if args.emb_dir is not None:
        fute_methods = _add_fute_scores(scores, sources, prompt_sets, args.emb_dir, args.fute_methods)

    # Evaluate and average.
    ndcg_fn = functools.partial(transfer_eval.ndcg, gain_kind=args.ndcg_gain, k=args.ndcg_k, scale=args.ndcg_scale)
    evaluations = [selection_eval.evaluate_dataset(s.model, s.dataset, s.genre, s.metric, s.performance(),
                                                   scores[s.model, s.dataset], ndcg_fn) for s in prompt_sets]
    summary = selection_eval.summarise(evaluations)
    order = [*selection_eval.BASELINE_NAMES, *transfer_eval.method_order(fute_methods)]
    names = {**selection_eval.BASELINE_NAMES, **{m: transfer_eval.display_name(m) for m in fute_methods}}

    report = {
        **_report_head(args, argv),
        "summary": summary,
        "datasets": [{**e.to_json(), "inference_files": [str(run.path) for run in s.runs],
                      "score_sources": sources[s.model, s.dataset]} for e, s in zip(evaluations, prompt_sets)],
    }
    _write_text(_output(stem, ".md"), _prompt_markdown(summary, evaluations, order, names, args))
    _write_text(_output(stem, ".csv"), selection_eval.summary_csv(summary, order, names))
    write_json(_output(stem, ".json"), report)
    logger.info("prompt-selection table:\n%s", selection_eval.summary_markdown(summary, order, names))
    return report


def _baseline_files(spec: str) -> list[Path]:
    """--baseline_scores: a folder (every JSON under it) or comma-separated files."""
    if Path(spec).is_dir():
        return sorted(Path(spec).rglob("*.json"))
    paths = [Path(item) for item in _csv_list(spec)]
    for path in paths:
        if not path.is_file():
            raise FuteError(f"--baseline_scores: {path} is neither a folder nor a file")
    return paths


def _add_baseline_scores(scores, sources, prompt_sets, spec: str) -> None:
    """scores[(model, dataset)][key] = the baseline's 13 scores, from run_prompt_selection_baselines.py outputs.

    A score file counts only if it was made from the same inputs as the inference files found here:
    its record's inputs_sha256 must equal their fingerprint (selection_files.PromptSet.fingerprint).
    """
    fingerprints = {(s.model, s.dataset): s.fingerprint() for s in prompt_sets}
    found: dict[tuple[str, str], Path] = {}
    for path in _baseline_files(spec):
        content = read_json(path)
        record = content.get("record") if isinstance(content, dict) else None
        if not isinstance(record, dict) or not {"model", "dataset"} <= record.keys():
            continue  # not a baseline score file (a record, an inference file, ...)
        key = (str(record["model"]), str(record["dataset"]))
        if key not in scores:
            logger.warning("%s: scores of %s on %s, which have no inference files in --inference_dir; ignored",
                           path, *key)
            continue
        if key in found:
            raise FuteError(f"two baseline score files for {key[0]} on {key[1]}: {found[key]} and {path}; keep one")
        if record.get("inputs_sha256") != fingerprints[key]:
            raise FuteError(f"{path} was not computed from the inference files of {key[0]} on {key[1]} in "
                            f"--inference_dir (their fingerprint differs from its record's inputs_sha256); re-run "
                            f"run_prompt_selection_baselines.py on them")
        found[key] = path
        for method in selection_eval.BASELINE_NAMES:
            if method in content:
                scores[key][method] = content[method]
                sources[key][method] = str(path)
    missing = sorted(set(scores) - set(found))
    if missing:
        listed = ", ".join(f"{model} on {dataset}" for model, dataset in missing)
        raise FuteError(f"no baseline scores for {listed} in {spec}; run run_prompt_selection_baselines.py for them")


def _add_fute_scores(scores, sources, prompt_sets, emb_dir: str, methods: list[str] | None) -> list[str]:
    """scores[(model, dataset)][method] = [cosine(MTE of model + prompt p, DTE of dataset) for p in 0..12]."""
    embeddings = records.load_embeddings(emb_dir)
    cache = records.CosineCache()  # an LLM's 13 MTEs serve every dataset of the genre: one norm each
    available = sorted({e.method for e in embeddings if e.kind == "MTE" and _llm_genre(e) is not None})
    methods = methods or available
    if not methods:
        raise FuteError(f"no LLM + prompt MTEs (run_task_emb.py --llm_mode True) under {emb_dir}; check --emb_dir")
    for s in prompt_sets:
        for method in methods:
            dte = records.find_embedding(embeddings, method, "DTE", s.dataset, emb_dir, "--fute_methods")
            mtes = [_find_llm_mte(embeddings, method, s.model, p, s.genre, emb_dir) for p in range(len(s.runs))]
            records.check_same_dim([dte, *mtes], f"method {method}")
            scores[s.model, s.dataset][method] = [cache.cosine(mte, dte) for mte in mtes]
            sources[s.model, s.dataset][method] = {"dte": str(dte.path), "mtes": [str(mte.path) for mte in mtes]}
    return methods


def _llm_genre(embedding: records.Embedding) -> str | None:
    """sa / nli for an LLM MTE (its record's task_type), None for any other embedding."""
    task_type = embedding.config.get("task_type")
    return task_type if task_type in GENRES else None


def _find_llm_mte(embeddings, method: str, model: str, prompt: int, genre: str, emb_dir: str) -> records.Embedding:
    """The MTE of (model, prompt) for the genre; the model may be named by alias or hub id on either side."""
    def same_model(name) -> bool:
        return name is not None and MODEL_ALIASES.get(str(name), str(name)) == MODEL_ALIASES.get(model, model)

    found = [e for e in embeddings if e.method == method and e.kind == "MTE" and _llm_genre(e) == genre
             and ((e.task.rpartition(":p")[2] == str(prompt) and same_model(e.task.rpartition(":p")[0]))
                  or (e.config.get("prompt_number") == prompt and same_model(e.config.get("llm_model"))))]
    return records.the_only(found,
                            missing=f"missing embedding: no {genre} MTE of method {method} for LLM {model} prompt "
                                    f"{prompt} in {emb_dir}; compute it with run_task_emb.py --llm_mode True "
                                    f"--task_type {genre}",
                            what=f"{genre} MTEs of method {method} for LLM {model} prompt {prompt}")


def _prompt_markdown(summary, evaluations, order, names, args: argparse.Namespace) -> str:
    parts = ["# Prompt selection", "",
             "Performance: the task metric (SA accuracy, NLI macro-F1) of the selected prompt; Rate: Performance / "
             f"the best prompt's; {_ndcg_description(args, 'all prompts')} of the method's ranking. In percent, "
             "averaged over each genre's datasets (their number per LLM in the *datasets averaged* rows).", "",
             selection_eval.summary_markdown(summary, order, names)]
    for e in evaluations:
        parts += [f"## {e.model} on {e.dataset} ({e.metric}; best prompt(s) {', '.join(map(str, e.best_prompts))})",
                  "", "| method | selected | Performance | Rate | NDCG |", "|---|---|---|---|---|"]
        for method in [m for m in order if m in e.methods]:
            r = e.methods[method]
            parts.append(f"| {names.get(method, method)} | {r.selected} | {100 * r.performance:.1f} | "
                         f"{100 * r.rate:.1f} | {100 * r.ndcg:.1f} |")
        parts.append("")
    return "\n".join(parts)


# ---------------------------------------------------------------- wiring

# name -> (help, add arguments, run).
SUBCOMMANDS: dict[str, tuple[str, Callable, Callable]] = {
    "transfer": ("transferability table: rho and NDCG per method, in-class and all-class",
                 add_transfer_args, run_transfer),
    "prompt": ("prompt-selection table: Performance, Rate and NDCG per method, per LLM and genre",
               add_prompt_args, run_prompt),
    "plot": ("cosine heatmap and PCA / t-SNE projections of task embeddings", add_plot_args, run_plot),
    "space": ("unified space: where each MTE lands among its method's DTEs (own-task and family ranks, MRR)",
              add_space_args, run_space),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Turn embeddings and scores into the paper's tables and plots.")
    subparsers = parser.add_subparsers(dest="subcommand", required=True, metavar="{" + ",".join(SUBCOMMANDS) + "}")
    for name, (help_text, add_arguments, _) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
        cli.add_common_args(sub)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)



def main(argv: Sequence[str] | None = None):
    args = parse_args(argv)
    cli.start(args)  # no torch work here: this applies --log_level and --seed
    return SUBCOMMANDS[args.subcommand][2](args, argv)


if __name__ == "__main__":
    cli.exit_with(main)
