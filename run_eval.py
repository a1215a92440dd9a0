"""Evaluation: turn finished embeddings and scores into the paper's tables and plots.

Subcommands:
    transfer  the transferability table (rho and NDCG, in-class and all-class, per method)
    prompt    the prompt-selection table (Performance, Rate and NDCG per method, per LLM, SA and NLI)
    space     the unified space: where each MTE lands among its method's DTEs (own-task and family ranks)
Each table also gives the ranking metrics (regret@k, hit@k, NDCG@k, Spearman, weighted Kendall tau), every mean
with its 95% bootstrap interval over targets and seeds, and each method against each FUTE row (paired difference,
interval, p-value): docs/statistics.md. Folder flags take one folder or several, comma-separated (one per seed).
    plot      cosine-similarity heatmap + PCA and t-SNE projections of a set of embeddings
    compare   the cosines between any chosen embeddings (raw and as displacements from e0), as numbers

Examples:
    python run_eval.py transfer --emb_dir=./result/emb --score_dir=./result/scores \
        --save_path=./result/eval/transfer --ndcg_gain=linear
    python run_eval.py prompt --inference_dir=./result/llm --baseline_scores=./result/ps \
        --emb_dir=./result/llm_emb --save_path=./result/eval/prompt
    python run_eval.py space --emb_dir=./result/emb --save_path=./result/eval/space
    python run_eval.py plot --emb_dir=./result/emb --method=prefix-fute --save_path=./result/eval/prefix_fute
    python run_eval.py compare --embeddings=./result/emb/sst2_dte.npy,./result/emb/mine_dte.npy \
        --save_path=./result/eval/sst2_vs_mine

Each table writes <stem>.md, .csv, _paired.csv, then .json (led by the run record), which marks it finished, holding their
locks while it runs (a second run writing them is refused; data_utils/artifacts/tables.py). This script only
wires: each subcommand's arguments and run are in task_emb/eval_commands.py (transfer, space, plot, compare)
and llm_inference/eval_commands.py (prompt), which import their table modules only when they run.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from data_utils import cli
from data_utils.artifacts.completion import writing
from data_utils.io import output_stem, stem_file
from llm_inference import eval_commands as llm_commands
from task_emb import eval_commands as emb_commands

# name -> (help, add arguments, run).
SUBCOMMANDS: dict[str, tuple[str, Callable, Callable]] = {
    "transfer": ("transferability table: rho and NDCG per method, in-class and all-class",
                 emb_commands.add_transfer_args, emb_commands.run_transfer),
    "prompt": ("prompt-selection table: Performance, Rate and NDCG per method, per LLM and genre",
               llm_commands.add_prompt_args, llm_commands.run_prompt),
    "plot": ("cosine heatmap and PCA / t-SNE projections of task embeddings", emb_commands.add_plot_args,
             emb_commands.run_plot),
    "space": ("unified space: where each MTE lands among its method's DTEs (own-task and family ranks, MRR)",
              emb_commands.add_space_args, emb_commands.run_space),
    "compare": ("cosines between any chosen embeddings, raw and as displacements from e0 (Markdown, CSV, JSON, "
                "heatmaps)", emb_commands.add_compare_args, emb_commands.run_compare),
}


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(description="Turn embeddings and scores into the paper's tables and plots.")
    subparsers = parser.add_subparsers(dest="subcommand", required=True, metavar="{" + ",".join(SUBCOMMANDS) + "}")
    for name, (help_text, add_arguments, _) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
        cli.add_common_args(sub, device=False)
    return parser


def parse_args(argv: Sequence[str] | None = None):
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None):
    args = build_parser().parse_args(argv)
    cli.start(args)  # no torch work here: this applies --log_level and --seed
    stem = output_stem(args.save_path)
    written = (".record.json",) if args.subcommand == "plot" else (".json", ".md", ".csv")
    with writing(*(stem_file(stem, suffix) for suffix in written)):
        return SUBCOMMANDS[args.subcommand][2](args, argv)


if __name__ == "__main__":
    cli.exit_with(main)
