"""The flags of the task-model scripts, and the checks on them, without importing torch.

The fine-tuning parser of run_cr_train.py / run_qa_train.py, the modes run_task_emb.py's flags
may combine into (`check_embedding_flags`), the names --fim_estimator and
--soft_label_loss take (task_emb/fim.py and task_emb/targets.py compute them), and how a batch
is split into forward passes. Kept apart from the modules that compute, so that --help and a
bad flag are answered before torch loads.
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from configs.hparams import FINETUNE
from data_utils import cli
from data_utils.errors import FuteError

logger = logging.getLogger(__name__)

# --fim_estimator (formulas: task_emb/fim.py) and --soft_label_loss (task_emb/targets.py).
FIM_ESTIMATORS: tuple[str, ...] = ("reference", "batch", "empirical")
SOFT_LABEL_LOSSES: tuple[str, ...] = ("bce", "ce")


def build_finetune_parser(task: str) -> argparse.ArgumentParser:
    defaults = FINETUNE[task]
    what = {"cr": "a classification/regression", "qa": "an extractive QA"}[task]
    parser = cli.ArgumentParser(prog=f"run_{task}_train.py",
                                description=f"Fine-tune an LM on {what} dataset (optionally after another).")
    parser.add_argument("--to_train_dataset", required=True,
                        help="the dataset: a registry name (configs/datasets.yaml) or the path of a declaration file "
                             "(.yaml, .yml, .json) of one's own (docs/your_data.md)")
    parser.add_argument("--lm_model_name", required=True,
                        help="base model: Hugging Face id or local folder (also its tokenizer when --load_path "
                             "has none)")
    parser.add_argument("--model_save_path", default=None,
                        help="folder for the checkpoint (hf_checkpoint/ + torch_checkpoint.pt); omit it to keep "
                             "only the scores, e.g. for transfer runs that no later step loads (default: none)")
    parser.add_argument("--score_save_path", required=True, help="dev scores JSON ('.json' is appended if missing)")
    parser.add_argument("--load_path", default=None,
                        help="continue from this checkpoint (a --model_save_path of an earlier run): task transfer "
                             "(default: none, start from --lm_model_name)")
    parser.add_argument("--gradient_accumulation_steps", type=int, default=1,
                        help="split each batch of --batch_size examples into this many forward passes")
    parser.add_argument("--max_epochs", type=int, default=defaults["max_epochs"], help="training epochs")
    parser.add_argument("--learning_rate", type=float, default=defaults["learning_rate"], help="AdamW learning rate")
    parser.add_argument("--batch_size", type=int, default=defaults["batch_size"],
                        help="effective batch size (examples per optimiser step)")
    parser.add_argument("--max_len", type=int, default=defaults["max_len"], help="maximum tokens per input")
    parser.add_argument("--max_train_examples", type=int, default=None,
                        help="use a seeded sample of at most this many training examples (default: all)")
    parser.add_argument("--max_dev_examples", type=cli.positive_int, default=None,
                        help="score on a seeded sample of at most this many dev examples (default: all)")
    parser.add_argument("--dataset_path", default=None,
                        help="read the dataset from here: a folder with one file per split, or one file (the "
                             "training split; dev is a seeded 80/20 cut of it) (default: the declared files or the "
                             "hub)")
    parser.add_argument("--data_loader_shuffle", type=cli.str2bool, default=True,
                        help="shuffle the training data every epoch (True/False)")
    parser.add_argument("--overwrite", type=cli.str2bool, default=False,
                        help="replace an existing score file and checkpoint instead of refusing")
    cli.add_common_args(parser)
    return parser


def parse_finetune_args(task: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = build_finetune_parser(task).parse_args(argv)
    args.score_save_path = cli.with_suffix(args.score_save_path, ".json")
    check_training_flags(vars(args))
    return args


def check_training_flags(values: Mapping[str, Any]) -> None:
    """FuteError naming the flag when a size or epoch count is below 1, or the batch cannot be
    split into --gradient_accumulation_steps equal forward passes."""
    for key in ("batch_size", "gradient_accumulation_steps", "max_epochs", "max_len"):
        if key in values and values[key] < 1:
            raise FuteError(f"--{key} must be at least 1, got {values[key]}")
    if values["batch_size"] % values["gradient_accumulation_steps"]:
        raise FuteError(f"--batch_size {values['batch_size']} must be a multiple of --gradient_accumulation_steps "
                        f"{values['gradient_accumulation_steps']}")


def check_embedding_flags(flags: Mapping[str, Any]) -> None:
    """run_task_emb.py's flags (as parsed, by name): FuteError with the fix for a combination that has no meaning."""
    if flags["generate_model_data_only"]:
        if flags["task_type"] not in ("sa", "nli"):
            raise FuteError("--generate_model_data_only writes LLM inputs: use --task_type sa or nli")
        return
    input_type, task_type = flags["input_type"], flags["task_type"]
    if flags["task_emb_type"] == "text" and input_type != "data":
        raise FuteError("--task_emb_type text (TextEmb) describes a dataset: use --input_type data")
    if input_type == "model" and flags["is_baseline"]:
        raise FuteError("--is_baseline True only applies to --input_type data: a model task embedding is FUTE's")
    if flags["llm_mode"]:
        if input_type != "model" or task_type not in ("sa", "nli") or not flags["load_path"]:
            raise FuteError("--llm_mode True needs --input_type model, --task_type sa|nli and --load_path "
                            "pointing at the JSONL of run_llm_inference_for_te.py")
    elif input_type == "model":
        if task_type not in ("cr", "qa") or not flags["load_path"]:
            raise FuteError("--input_type model needs --task_type cr|qa and --load_path (a fine-tuned checkpoint); "
                            "for an LLM add --llm_mode True")
    elif not flags["to_train_dataset"]:
        raise FuteError("--input_type data needs --to_train_dataset")


def micro_batch_size(values: Mapping[str, Any]) -> int:
    """Examples per forward pass: the effective batch split into gradient_accumulation_steps passes
    (an exact split, by check_training_flags)."""
    return values["batch_size"] // values["gradient_accumulation_steps"]


def fitting_accumulation(batch_size: int, default_batch: int, default_steps: int) -> int:
    """The gradient accumulation steps for a --batch_size given without --gradient_accumulation_steps.

    The default steps when they divide the batch (what the defaults always did); otherwise the fewest
    steps that split the batch exactly into forward passes no larger than the defaults' own
    (default_batch / default_steps examples, the memory the defaults were sized for). E.g. an MTE's
    defaults, 128 in 16 passes of 8: batch 8 -> 1 pass of 8; 12 -> 2 of 6; 100 -> 20 of 5.
    """
    if batch_size < 1 or batch_size % default_steps == 0:
        return default_steps  # a batch below 1 is check_training_flags' error
    largest_pass = max(1, default_batch // default_steps)
    return next(steps for steps in range(-(-batch_size // largest_pass), batch_size + 1) if batch_size % steps == 0)


def resolve_batch_split(defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """`defaults` with every value the user gave (`given`, None = not given) taking precedence, the gradient
    accumulation chosen to fit a batch size given alone (`fitting_accumulation`, logged), then checked
    (`check_training_flags`); a batch and accumulation both given that do not fit stay an error."""
    values = {"gradient_accumulation_steps": 1, **defaults,
              **{key: value for key, value in given.items() if value is not None}}
    if given.get("gradient_accumulation_steps") is None:
        steps = fitting_accumulation(values["batch_size"], defaults["batch_size"],
                                     defaults.get("gradient_accumulation_steps", 1))
        if steps != values["gradient_accumulation_steps"]:
            logger.info("--batch_size %d is not a multiple of the default --gradient_accumulation_steps %d: "
                        "using %d (forward passes of %d examples; recorded in the hyper-parameters)",
                        values["batch_size"], values["gradient_accumulation_steps"], steps,
                        values["batch_size"] // steps)
            values["gradient_accumulation_steps"] = steps
    check_training_flags(values)
    return values
