"""Evaluation: turn finished embeddings and scores into the paper's tables and plots.

Subcommands:
    transfer  the transferability table (rho and NDCG, in-class and all-class, per method)
    plot      cosine-similarity heatmap + PCA and t-SNE projections of a set of embeddings

Examples:
    python run_eval.py transfer --emb_dir=./result/emb --score_dir=./result/scores \
        --save_path=./result/eval/transfer --ndcg_gain=linear
    python run_eval.py plot --emb_dir=./result/emb --method=prefix-fute --save_path=./result/eval/prefix_fute
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from data_utils import cli
from data_utils.errors import FuteError
from data_utils.io import atomic_open, run_record, write_json
from task_emb import records, transfer_eval
from task_emb.plots import plot_embeddings

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
                             "fim-baseline,fim-fute,textemb); default: every method in --emb_dir")
    parser.add_argument("--datasize", type=cli.str2bool, default=True,
                        help="add the DataSize baseline (rank sources by training-set size, from the plain "
                             "fine-tuning runs) (True/False)")
    parser.add_argument("--ndcg_gain", choices=transfer_eval.GAINS, default="linear",
                        help="NDCG gain of a transfer score rel: linear = rel (as sklearn.metrics.ndcg_score), "
                             "exponential = 2^rel - 1; the discount is 1/log2(rank + 1)")
    parser.add_argument("--ndcg_k", type=int, default=None,
                        help="NDCG cut-off: only the top k ranked sources count (default: all)")


def run_transfer(args: argparse.Namespace, argv: Sequence[str] | None) -> dict:
    """Read scores and embeddings, rank sources for each target per method, write markdown/CSV/JSON."""
    if args.ndcg_k is not None and args.ndcg_k < 1:
        raise FuteError(f"--ndcg_k must be at least 1, got {args.ndcg_k}")
    stem = _stem(args.save_path)

    # Ground truth: the transfer score of every (source, target) among the chosen tasks.
    runs = records.load_finetune_runs(args.score_dir)
    truth, tasks = _restrict(records.transfer_scores(runs), args.tasks, args.score_dir)
    classes = {task: records.task_class(task) for task in tasks}
    pairs = {target: sorted(sources) for target, sources in truth.items()}

    # What each method predicts for every (source, target) pair.
    embeddings = records.load_embeddings(args.emb_dir)
    methods = args.methods or sorted({e.method for e in embeddings})
    predicted = {method: records.similarity_table(embeddings, method, pairs, args.emb_dir) for method in methods}
    if args.datasize:
        predicted[transfer_eval.DATASIZE] = _datasize_table(records.train_sizes(runs), pairs, args.score_dir)

    # Rank and score.
    results = {method: transfer_eval.evaluate_method(table, truth, classes, args.ndcg_gain, args.ndcg_k)
               for method, table in predicted.items()}
    summaries = {method: transfer_eval.summarise(result) for method, result in results.items()}

    report = {
        "record": run_record(dict(vars(args)), list(argv) if argv is not None else None),
        "ndcg_gain": args.ndcg_gain,
        "ndcg_k": args.ndcg_k,
        "classes": classes,
        "summary": summaries,
        "targets": {method: {scope: {t: r.to_json() for t, r in by_target.items()}
                             for scope, by_target in result.items()} for method, result in results.items()},
    }
    _write_text(stem.with_suffix(".md"), _markdown(summaries, results, args))
    _write_text(stem.with_suffix(".csv"), transfer_eval.summary_csv(summaries))
    write_json(stem.with_suffix(".json"), report)
    logger.info("transfer table:\n%s", transfer_eval.summary_markdown(summaries))
    return report


def _restrict(truth: dict[str, dict[str, float]], tasks: list[str] | None,
              score_dir: str) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Keep the transfer scores among `tasks` (default: every dataset in them); a listed task with none is an error."""
    if tasks is None:
        tasks = sorted({t for t in truth} | {s for row in truth.values() for s in row})
    kept = {t: {s: v for s, v in truth[t].items() if s in tasks and s != t} for t in tasks if t in truth}
    kept = {t: row for t, row in kept.items() if row}
    involved = set(kept) | {s for row in kept.values() for s in row}
    for task in tasks:
        if task not in involved:
            raise FuteError(f"no transfer score involves {task} (as source or target) among --tasks in {score_dir}; "
                            f"run the transfer fine-tuning or drop {task} from --tasks")
    return kept, sorted(tasks)


def _datasize_table(sizes: dict[str, int], pairs: dict[str, list[str]], score_dir: str) -> dict[str, dict[str, float]]:
    """predicted[t][s] = training-set size of s (bigger = predicted better)."""
    for source in sorted({s for sources in pairs.values() for s in sources}):
        if source not in sizes:
            raise FuteError(f"DataSize needs the plain fine-tuning run of {source} (no --load_path) in {score_dir}; "
                            f"run it or pass --datasize False")
    return {t: {s: float(sizes[s]) for s in sources} for t, sources in pairs.items()}


def _markdown(summaries, results, args: argparse.Namespace) -> str:
    cutoff = "all ranks" if args.ndcg_k is None else f"top {args.ndcg_k}"
    parts = ["# Transferability", "",
             f"ρ: rank of the truly best source (lower is better). "
             f"NDCG ({args.ndcg_gain} gain, {cutoff}), in percent.",
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
    write_json(stem.with_name(stem.name + ".record.json"),
               run_record(config, list(argv) if argv is not None else None))
    return paths


# ---------------------------------------------------------------- wiring

# name -> (help, add arguments, run). The prompt-selection table (`prompt`) registers here too.
SUBCOMMANDS: dict[str, tuple[str, Callable, Callable]] = {
    "transfer": ("transferability table: rho and NDCG per method, in-class and all-class",
                 add_transfer_args, run_transfer),
    "plot": ("cosine heatmap and PCA / t-SNE projections of task embeddings", add_plot_args, run_plot),
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
