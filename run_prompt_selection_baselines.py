"""Score the 13 prompts of one LLM on one dataset with every prompt-selection baseline (docs/method.md section 6).

Example (the reference's command):
    python run_prompt_selection_baselines.py --save_path=./result/ps/llama-13b_sst2 \
        --paths=./result/llm/llama-13b_sst2_0.json,./result/llm/llama-13b_sst2_1.json,...,./result/llm/llama-13b_sst2_12.json

--paths: the 13 inference files of run_llm_inference.py (this project's layout or the
original's), one per prompt 0-12, in any order; one LLM, one dataset, the same examples.

Output `--save_path` (".json" appended when missing):

    {"mi": [13 scores], "spell": [...], "ge": [...], "le": [...], "mdl": [...], "zlpm": [...],
     "zpm": [...], "zmv": [...], "selfsel": [...],
     "record": {"command", "config", "versions", "model", "dataset", "task", "metric",
                "num_prompts", "num_examples", "paths" (index = prompt), "inputs_sha256",
                "self_select", "skipped"}}

Each score list is indexed by prompt number; higher = better for every method. The keys
come in the original script's order. "inputs_sha256" fingerprints what was scored
(selection_files.PromptSet.fingerprint); run_eval.py prompt checks it against its
inference files.
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

from configs.models import alias_of
from data_utils import cli
from data_utils.io import check_writable, read_json, run_record, write_json

logger = logging.getLogger(__name__)

SELF_SELECT = "selfsel"


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
    cli.add_common_args(parser)  # --seed, --device (nothing here is random or on a device), --log_level
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    args.paths = [path.strip() for path in args.paths.split(",") if path.strip()]
    args.save_path = cli.with_suffix(args.save_path, ".json")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Read the 13 files, score them with every baseline, write and return the scores."""
    args = parse_args(argv)
    cli.start(args)
    save_path = check_writable(args.save_path)
    # scipy, scikit-learn and pandas load here, once the flags are known to be good (--help stays fast).
    from llm_inference import prompt_selection as ps
    from llm_inference.selection_files import load_prompt_set

    # Inputs: 13 checked files -> [P, N, L] label distributions, [P, N] predictions and perplexities.
    prompts = load_prompt_set(args.paths)
    probs, preds, ppl = prompts.probs, prompts.preds, prompts.ppl
    logger.info("%s on %s: %d prompts x %d examples", prompts.model, prompts.dataset, *probs.shape[:2])

    # Scores, per baseline, in the original's key order. As in the original, GlobalE and the ZPS
    # accuracy count the files' predictions, which can differ from argmax(probs) on an exact tie.
    self_select = _self_select(prompts, args)
    methods = {
        "mi": lambda: ps.mutual_information(probs),
        "spell": lambda: ps.spell(ppl),
        "ge": lambda: ps.global_entropy(preds, probs.shape[-1]),
        "le": lambda: ps.local_entropy(probs),
        "mdl": lambda: ps.mdl(probs),
        "zlpm": lambda: ps.zps_scores(probs, preds, "log_prob_mean"),
        "zpm": lambda: ps.zps_scores(probs, preds, "prob_mean"),
        "zmv": lambda: ps.zps_scores(probs, preds, "majority_vote"),
        SELF_SELECT: lambda: ps.self_select_scores(self_select["order"], len(prompts.runs)),
    }
    skipped = {} if "order" in self_select else {SELF_SELECT: self_select["reason"]}
    output: dict[str, Any] = {key: [float(s) for s in methods[key]()] for key in ps.BASELINES if key not in skipped}

    config = {**vars(args), "save_path": str(save_path)}
    output["record"] = {
        **run_record(config, argv, __file__),
        "model": prompts.model,
        "dataset": prompts.dataset,
        "task": prompts.genre,
        "metric": prompts.metric,
        "num_prompts": len(prompts.runs),
        "num_examples": int(probs.shape[1]),
        "paths": [str(run.path) for run in prompts.runs],
        "inputs_sha256": prompts.fingerprint(),
        "self_select": self_select,
        "skipped": skipped,
    }
    write_json(save_path, output)
    logger.info("wrote %s (%s)", save_path, ", ".join(key for key in ps.BASELINES if key in output))
    return output


def _self_select(prompts, args: argparse.Namespace) -> dict[str, Any]:
    """{"model", "order_file", "order"} for Self-Select, or {"model", "reason"} when it is skipped;
    `prompts`: the llm_inference.selection_files.PromptSet scored."""
    from llm_inference import prompt_selection as ps

    model = args.self_select_model or alias_of(prompts.model)
    if args.self_select_order_file is None:
        known = [key for key in read_json(ps.DEFAULT_SELF_SELECT_ORDERS) if not key.startswith("_")]
        if model not in known:
            reason = (f"no Self-Select order for model {model!r} (the paper's orders cover {', '.join(known)}); "
                      f"pass --self_select_order_file with one, or --self_select_model to use one of them")
            logger.warning("Self-Select skipped: %s", reason)
            return {"model": model, "reason": reason}
    order = ps.load_self_select_order(model, prompts.genre, prompts.dataset, args.self_select_order_file)
    return {"model": model, "order_file": str(args.self_select_order_file or ps.DEFAULT_SELF_SELECT_ORDERS),
            "order": order}


if __name__ == "__main__":
    cli.exit_with(main)
