"""run_eval.py prompt: the prompt-selection table's arguments and what it runs (the table:
llm_inference/prompt_table.py, imported when it runs)."""
from __future__ import annotations

import argparse
from collections.abc import Sequence

from data_utils import cli
from data_utils.artifacts.seeds import SEEDS_HELP
from data_utils.artifacts.tables import write_table
from data_utils.metrics import NdcgSettings


def add_prompt_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inference_dir", required=True,
                        help="folder (searched recursively) of run_llm_inference.py outputs: 13 prompts per "
                             "(LLM, dataset, seed), recognised by their top-level keys (file names do not matter)"
                             + SEEDS_HELP)
    parser.add_argument("--baseline_scores", default=None,
                        help="comma-separated folders (searched recursively) and files of "
                             "run_prompt_selection_baselines.py outputs, one per (LLM, dataset, seed); "
                             "default: no baseline rows")
    parser.add_argument("--emb_dir", default=None,
                        help="folder (searched recursively) of task embeddings for the FUTE rows: an MTE per "
                             "LLM + prompt (run_task_emb.py --llm_mode True) and a DTE per dataset, same method"
                             + SEEDS_HELP + "; default: no FUTE rows")
    parser.add_argument("--fute_methods", type=cli.csv_list, default=None,
                        help="comma-separated embedding methods for FUTE rows (e.g. prefix-fute,fim-fute); "
                             "default: every method with LLM MTEs in --emb_dir")
    parser.add_argument("--save_path", required=True, help=cli.SAVE_HELP)
    cli.add_ndcg_args(parser, relevance="a prompt's performance", ranked="prompts", default_k="all 13")


def run_prompt(args: argparse.Namespace, argv: Sequence[str] | None) -> dict:
    from llm_inference.prompt_table import build_prompt_table

    ndcg = NdcgSettings(args.ndcg_gain, args.ndcg_k, args.ndcg_scale)
    table = build_prompt_table(args.inference_dir, args.baseline_scores, args.emb_dir, args.fute_methods, ndcg)
    return write_table(args.save_path, vars(args), argv, "prompt-selection table", table)
