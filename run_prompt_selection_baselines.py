"""Score the 13 prompts of one LLM on one dataset with every prompt-selection baseline (docs/method.md section 6).

Example (the reference's command):
    python run_prompt_selection_baselines.py --save_path=./result/ps/llama-13b_sst2 \
        --paths=./result/llm/llama-13b_sst2_0.json,./result/llm/llama-13b_sst2_1.json,...,./result/llm/llama-13b_sst2_12.json

--paths: the 13 inference files of run_llm_inference.py (this project's layout or the
original's), one per prompt 0-12, in any order; one LLM, one dataset, the same examples.

Output `--save_path` (".json" appended when missing), data_utils/artifacts/selection_scores.py:

    {"mi": [13 scores], "spell": [...], "ge": [...], "le": [...], "mdl": [...], "zlpm": [...],
     "zpm": [...], "zmv": [...], "selfsel": [...],
     "record": {"command", "config", "versions", "model", "dataset", "task", "metric",
                "num_prompts", "num_examples", "paths" (index = prompt), "inputs_sha256",
                "self_select", "skipped"}}

One score list per baseline of llm_inference/selection_baselines.py, indexed by prompt number;
higher = better for every method. The keys come in the original script's order. "inputs_sha256"
fingerprints what was scored (selection_files.PromptSet.fingerprint); run_eval.py prompt checks
it against its inference files.
Self-Select needs the paper's order for the LLM (configs/self_select_orders.json knows
llama-13b, llama-70b and mixtral; a hub id of one of them is mapped to its alias).
For another LLM the method is skipped with a warning (its key is absent and
record.skipped says why) unless --self_select_order_file gives an order for it.
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Any

from configs.hparams import DEFAULT_SEED
from configs.models import alias_of
from data_utils import cli
from data_utils.artifacts.selection_scores import write_selection_scores
from data_utils.errors import FuteError
from data_utils.io import check_writable, run_record

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(description="Score 13 prompts of one LLM on one dataset with every "
                                            "prompt-selection baseline.")
    parser.add_argument("--paths", required=True,
                        help="comma-separated inference files of run_llm_inference.py, one per prompt 0-12 "
                             "(13 files, one LLM, one dataset)")
    parser.add_argument("--save_path", required=True, help="output JSON ('.json' is appended if missing)")
    parser.add_argument("--self_select_order_file", default=None,
                        help="JSON {model: {sa|nli|dataset: [prompt numbers, best first]}} for Self-Select "
                             "(default: the paper's orders in configs/self_select_orders.json; a model without "
                             "an order there is skipped with a warning)")
    parser.add_argument("--self_select_model", default=None,
                        help="the model key to look up in the order file (default: the files' model, or its "
                             "alias when the files name a hub id such as meta-llama/Llama-2-13b-chat-hf)")
    # --seed: nothing here is random; it names the seed the inference files were run with (checked), so that the
    # scores' record names the seed of what they score. --device: nothing runs on one.
    cli.add_common_args(parser)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    args.paths = [path.strip() for path in args.paths.split(",") if path.strip()]
    args.save_path = cli.with_suffix(args.save_path, ".json")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Read the 13 files, score them with every baseline, write the scores and return what was written."""
    args = parse_args(argv)
    cli.start(args)
    save_path = check_writable(args.save_path)
    # scipy, scikit-learn and pandas load here, once the flags are known to be good (--help stays fast).
    from llm_inference.prompt_selection import find_self_select_order
    from llm_inference.selection_baselines import score_prompt_set
    from llm_inference.selection_files import load_prompt_set

    # Inputs: 13 checked files (probabilities, predictions, perplexities) and Self-Select's order for the LLM.
    prompts = load_prompt_set(args.paths)
    ran_with = prompts.runs[0].settings["seed"]
    if (DEFAULT_SEED if ran_with is None else ran_with) != args.seed:
        raise FuteError(f"the inference files of {prompts.model} on {prompts.dataset} were run with --seed {ran_with}, "
                        f"and the scores' record names --seed {args.seed}: pass --seed {ran_with}")
    logger.info("%s on %s: %d prompts x %d examples", prompts.model, prompts.dataset, len(prompts.runs),
                prompts.num_examples)
    self_select = find_self_select_order(args.self_select_model or alias_of(prompts.model), prompts.genre,
                                         prompts.dataset, args.self_select_order_file)

    # Scores of every baseline of llm_inference/selection_baselines.py, in the original's key order.
    config = {**vars(args), "save_path": str(save_path)}
    scores = score_prompt_set(prompts, self_select, run_record(config, argv, __file__))
    written = write_selection_scores(save_path, scores)
    logger.info("wrote %s (%s)", save_path, ", ".join(scores.scores))
    return written


if __name__ == "__main__":
    cli.exit_with(main)
