"""run_eval.py's subcommands over task embeddings: transfer, space, plot and compare; each one's arguments and
what it runs.

Importing this module loads no model library: each command imports its table module when it runs (they load
scikit-learn, pandas, matplotlib), so that --help and a bad flag are answered at once.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from data_utils import cli
from data_utils.artifacts.embeddings import KINDS, load_embeddings, read_embedding
from data_utils.artifacts.seeds import SEEDS_HELP
from data_utils.artifacts.tables import EVAL_SCRIPT, write_table
from data_utils.errors import FuteError
from data_utils.io import output_stem, run_record, stem_file, write_json, write_text
from data_utils.metrics import NdcgSettings

EMB_DIR_HELP = "folder (searched recursively) of task embeddings: <name>.npy + <name>.record.json" + SEEDS_HELP


def add_choice_args(parser: argparse.ArgumentParser) -> None:
    """Which embeddings of --emb_dir (task_emb.plots.choose)."""
    parser.add_argument("--method", default=None,
                        help="embedding method (e.g. prefix-fute); required when --emb_dir holds several "
                             "(default: the one method in --emb_dir)")
    parser.add_argument("--kinds", type=cli.csv_list, default=list(KINDS),
                        help="comma-separated kinds to include: DTE, MTE or both (default)")
    parser.add_argument("--tasks", type=cli.csv_list, default=None,
                        help="comma-separated embeddings to include, as tables name them (a dataset, e.g. mrpc, "
                             "mrpc@<digest> or a declaration file, or an LLM + prompt, e.g. llama-13b:p3); "
                             "default: all")


def add_displacement_args(parser: argparse.ArgumentParser, what: str) -> None:
    """--displacement and --surrogate: e0, rebuilt from the surrogate the records name (task_emb/displacement.py)."""
    parser.add_argument("--displacement", type=cli.str2bool, default=True,
                        help=f"{what} (needs the surrogate the records name, to rebuild e0) (True/False)")
    parser.add_argument("--surrogate", default=None,
                        help="a copy of that surrogate, for when the recorded paths and hub id do not reach it "
                             "(results copied to another machine); it must have the recorded content hash "
                             "(default: the surrogate the records name)")


def add_transfer_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--emb_dir", required=True, help=EMB_DIR_HELP)
    parser.add_argument("--score_dir", required=True,
                        help="folder (searched recursively) of fine-tuning scores: <score>.json + <score>.record.json "
                             "from run_cr_train.py/run_qa_train.py, plain and transfer runs" + SEEDS_HELP)
    parser.add_argument("--save_path", required=True, help=cli.SAVE_HELP)
    parser.add_argument("--tasks", type=cli.csv_list, default=None,
                        help="comma-separated datasets to evaluate (sources and targets): names, labels as the tables "
                             "write them (name@digest) or declaration files; default: every dataset in the transfer "
                             "scores. Each one needs an embedding for every method")
    parser.add_argument("--methods", type=cli.csv_list, default=None,
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
    cli.add_ndcg_args(parser, relevance="a transfer score", ranked="sources", default_k="all")


def run_transfer(args: argparse.Namespace, argv: Sequence[str] | None) -> dict:
    from task_emb.transfer_table import build_transfer_table

    table = build_transfer_table(args.emb_dir, args.score_dir, args.tasks, args.methods, args.datasize,
                                 args.allow_missing_pairs, NdcgSettings(args.ndcg_gain, args.ndcg_k, args.ndcg_scale))
    return write_table(args.save_path, vars(args), argv, "transfer table", table)


def add_space_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--emb_dir", required=True,
                        help="folder (searched recursively) of task embeddings: DTEs and MTEs of one or more methods"
                             + SEEDS_HELP)
    parser.add_argument("--save_path", required=True,
                        help="output stem: writes <stem>.md, <stem>.csv (summary), <stem>_ranks.csv, "
                             "<stem>_paired.csv, <stem>.json and <stem>_<method>[_seed<k>]_heatmap.png")
    parser.add_argument("--methods", type=cli.csv_list, default=None,
                        help="comma-separated methods (default: every method with both DTEs and MTEs)")
    parser.add_argument("--dtes", type=cli.csv_list, default=None,
                        help="comma-separated datasets whose DTEs the MTEs are ranked among, as tables name them (a "
                             "dataset, e.g. mrpc, mrpc@<digest> or a declaration file; default: every DTE of the "
                             "method in --emb_dir)")
    parser.add_argument("--mtes", type=cli.csv_list, default=None,
                        help="comma-separated MTEs to rank, as tables name them (a dataset as for --dtes, or an LLM "
                             "+ prompt, e.g. llama-13b:p3; default: every MTE of the method in --emb_dir)")
    add_displacement_args(parser, "also rank by the displacements e - e0 from the shared prefix initialisation "
                                  "(prefix methods)")


def run_space(args: argparse.Namespace, argv: Sequence[str] | None) -> dict:
    from task_emb.plots import plot_heatmap
    from task_emb.space_eval import build_space_table

    embeddings = load_embeddings(args.emb_dir)
    table = build_space_table(embeddings, args.methods, args.emb_dir, args.displacement, args.surrogate, args.dtes,
                              args.mtes)
    table.notes.extend(embeddings.skipped)
    stem = output_stem(args.save_path)
    stem_file(stem, ".json").unlink(missing_ok=True)  # written last, by write_table: unfinished until then
    plots = {method: plot_heatmap(matrix, rows, stem_file(stem, f"_{method}_heatmap.png"),
                                  f"{method}: MTEs x DTEs, cosine ({view})", column_labels=columns)
             for method, (matrix, rows, columns, view) in table.matrices.items()}
    write_text(stem_file(stem, "_ranks.csv"), table.ranks_csv())
    return {**write_table(args.save_path, vars(args), argv, "unified space", table), "plots": plots}


def add_plot_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--emb_dir", required=True, help=EMB_DIR_HELP)
    parser.add_argument("--save_path", required=True,
                        help="output stem: writes <stem>_heatmap.png, <stem>_pca.png, <stem>_tsne.png, "
                             "<stem>.record.json and, for a prefix method, <stem>_displacement_heatmap.png")
    add_choice_args(parser)
    parser.add_argument("--title", default=None, help="figure title (default: the method)")
    add_displacement_args(parser, "for a prefix method, also draw the cosines of the displacements e - e0 from the "
                                  "shared initialisation")


def run_plot(args: argparse.Namespace, argv: Sequence[str] | None) -> dict[str, Path]:
    from task_emb.plots import plot_selected

    stem = output_stem(args.save_path)
    stem_file(stem, ".record.json").unlink(missing_ok=True)  # written last: it marks the plots finished
    embeddings = load_embeddings(args.emb_dir)
    paths, chosen = plot_selected(embeddings, args.method, args.kinds, args.tasks, stem, args.seed, args.title,
                                  args.emb_dir, args.displacement, args.surrogate)
    write_json(stem_file(stem, ".record.json"), run_record(
        dict(vars(args), embeddings=[str(e.path) for e in chosen], skipped=embeddings.skipped), argv, EVAL_SCRIPT))
    return paths


def add_compare_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embeddings", type=cli.csv_list, default=None,
                        help="comma-separated embedding files (<name>.npy, each with its <name>.record.json), of one "
                             "dimension (default: none, choose them from --emb_dir)")
    parser.add_argument("--emb_dir", default=None,
                        help=EMB_DIR_HELP + "; with --method, --kinds and --tasks choosing among them as for plot "
                             "(default: none, give --embeddings)")
    parser.add_argument("--save_path", required=True,
                        help="output stem: writes <stem>.md (the matrices), <stem>.csv (one row per pair), <stem>.json "
                             "(matrices and pairs, the run record first), <stem>_heatmap.png and, with a shared "
                             "initialisation, <stem>_displacement_heatmap.png")
    add_choice_args(parser)
    add_displacement_args(parser, "also compare the displacements e - e0 from the shared initialisation of prefix "
                                  "embeddings of one surrogate and seed")


def run_compare(args: argparse.Namespace, argv: Sequence[str] | None) -> dict:
    from task_emb.compare import compare
    from task_emb.plots import choose, plot_heatmap

    if (args.embeddings is None) == (args.emb_dir is None):
        raise FuteError("give the embeddings to compare either as --embeddings FILE,FILE,... or as --emb_dir DIR "
                        "(with --method, --kinds, --tasks), not both")
    if args.embeddings is not None:
        files = [Path(cli.with_suffix(path, ".npy")) for path in args.embeddings]
        missing = [str(path) for path in files if not path.is_file()]
        if missing:
            raise FuteError(f"--embeddings: no such file {', '.join(missing)}")
        chosen, skipped = [read_embedding(path) for path in files], []
    else:
        embeddings = load_embeddings(args.emb_dir)
        chosen, skipped = choose(embeddings, args.method, args.kinds, args.tasks, args.emb_dir), embeddings.skipped
    table = compare(chosen, args.displacement, args.surrogate)
    table.notes.extend(skipped)
    stem = output_stem(args.save_path)
    stem_file(stem, ".json").unlink(missing_ok=True)  # written last, by write_table: unfinished until then
    plots = {"heatmap": plot_heatmap(table.raw, table.labels, stem_file(stem, "_heatmap.png"), "cosine similarity")}
    moved = stem_file(stem, "_displacement_heatmap.png")
    if table.displacement is None:
        moved.unlink(missing_ok=True)  # of an earlier run: these embeddings have none
    else:
        plots["displacement_heatmap"] = plot_heatmap(table.displacement, table.labels, moved,
                                                     "displacement from e0 (cosine of e - e0)")
    return {**write_table(args.save_path, vars(args), argv, "cosine similarity", table), "plots": plots}
