"""Task embeddings: prefix (TuPaTE-style) or FIM (TaskEmb-style), baseline or FUTE, on a surrogate model.

Modes (docs/method.md, sections 1-4):
  --input_type data                   DTE of a labelled dataset (--is_baseline True: the original
                                      method's fixed schedule; False: FUTE's, with early stopping)
  --input_type model --load_path CKPT MTE of a fine-tuned LM, learned from its outputs on x'
  --input_type model --llm_mode True  MTE of an LLM + prompt, from the x'/y' JSONL in --load_path
  --generate_model_data_only True     write x' for the LLM (sa or nli) as JSONL and stop

Example (FUTE DTE of wnli with prefix on t5-base):
    python run_task_emb.py --task_type=cr --input_type=data --task_emb_type=prefix \\
        --task_emb_model_lm_name=t5-base --lm_model_name=t5-base --is_baseline=False \\
        --to_train_dataset=wnli --save_path=./result/wnli_task_emb.npy
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from configs.datasets import TASK_TYPES
from configs.hparams import UNSUP_POOL
from data_utils import cli
from data_utils.artifacts.completion import unfinished, writing
from data_utils.errors import FuteError
from data_utils.io import check_writable
from task_emb.families import FAMILIES
from task_emb.options import FIM_ESTIMATORS, SOFT_LABEL_LOSSES, check_embedding_flags

logger = logging.getLogger("run_task_emb")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--save_path", required=True,
                   help="output: the embedding (.npy appended if missing), or the x' JSONL with "
                        "--generate_model_data_only")
    p.add_argument("--load_path", default=None,
                   help="model input: the fine-tuned checkpoint (--model_save_path of run_cr_train/run_qa_train), "
                        "or with --llm_mode the x'/y' JSONL of run_llm_inference_for_te.py (default: none; data "
                        "input reads no model)")
    p.add_argument("--task_type", required=True, choices=TASK_TYPES,
                   help="cr (classification/regression), qa (extractive QA), sa / nli (LLM task genres)")
    p.add_argument("--input_type", required=True, choices=("data", "model"),
                   help="data: a labelled dataset (DTE); model: a model's outputs on x' (MTE)")
    p.add_argument("--task_emb_type", required=True, choices=tuple(FAMILIES),
                   help="prefix (TuPaTE-style), fim (TaskEmb-style), or text (the TextEmb baseline: mean final "
                        "hidden state of the surrogate over the dataset; data input only)")
    p.add_argument("--to_train_dataset", default=None,
                   help="data input: the dataset, a registry name or a declaration file (.yaml, .yml, .json; "
                        "docs/your_data.md); model input: the dataset the model was fine-tuned on (default: read "
                        "from the checkpoint's record, which it must match)")
    p.add_argument("--lm_model_name", default="none",
                   help="the model being embedded (its base name for a fine-tuned LM, the LLM's name in --llm_mode); "
                        "recorded only")
    p.add_argument("--task_emb_model_lm_name", default="t5-base", help="the surrogate model T (hub id or folder)")
    p.add_argument("--is_baseline", type=cli.str2bool, default=False,
                   help="data input only: the original method's schedule (fixed epochs) instead of FUTE's")
    p.add_argument("--llm_mode", type=cli.str2bool, default=False, help="learn an LLM's MTE from --load_path JSONL")
    p.add_argument("--generate_model_data_only", type=cli.str2bool, default=False,
                   help="only write x' (sa or nli) as JSONL to --save_path for LLM inference")
    p.add_argument("--learning_rate", type=float, default=None,
                   help="learning rate (default: the method's for this input and task, configs/methods.py)")
    p.add_argument("--max_epochs", type=int, default=None,
                   help="(maximum) number of epochs (default: the method's, configs/methods.py)")
    p.add_argument("--gradient_accumulation_steps", type=int, default=None,
                   help="split each batch into this many forward passes (default: the method's, e.g. 16 for a "
                        "prefix MTE; when it does not divide --batch_size, the fewest steps that do, in forward "
                        "passes no larger than the default's; the value used is recorded)")
    p.add_argument("--batch_size", type=int, default=None,
                   help="effective batch size (default: the method's, configs/methods.py: 32 for data input, "
                        "128 for model input)")
    p.add_argument("--max_len", type=int, default=None,
                   help="maximum input length in tokens (default: 128 CR, 384 QA, 496 LLM)")
    p.add_argument("--max_data_for_task_emb_train", type=cli.positive_int, default=UNSUP_POOL["max_per_source"],
                   help="x' per pool dataset")
    p.add_argument("--model_te_read_num_processes", type=int, default=10,
                   help="processes that load the hub pool in parallel")
    p.add_argument("--allow_partial_pool", type=cli.str2bool, default=False,
                   help="go on when more than 10%% of the pool sources cannot be read (they are recorded)")
    p.add_argument("--unsup_data_path", default=None,
                   help="local x' pool: a JSONL file (or folder of them) with 'text' and optional 'text_pair'; "
                        "default: the CrossFit datasets from the hub")
    p.add_argument("--dataset_path", default=None,
                   help="data input: read the dataset from here: a folder with one file per split, or one file (the "
                        "training split; dev is a seeded 80/20 cut of it) (default: the declared files or the "
                        "hub)")
    p.add_argument("--max_train_examples", type=int, default=None,
                   help="data input: a seeded sample of at most this many training examples (default: all)")
    p.add_argument("--max_dev_examples", type=cli.positive_int, default=None,
                   help="data input: evaluate on a seeded sample of at most this many dev examples (default: all)")
    p.add_argument("--data_loader_shuffle", type=cli.str2bool, default=False,
                   help="shuffle the training data every epoch (the reference did not)")
    p.add_argument("--fim_estimator", choices=FIM_ESTIMATORS, default="reference",
                   help="reference: (mean gradient)^2 as the original; batch: TaskEmb's per-batch squares; "
                        "empirical: mean of per-example squared gradients")
    p.add_argument("--soft_label_loss", choices=SOFT_LABEL_LOSSES, default="bce",
                   help="fit soft labels y' with BCE-with-logits (the original) or soft cross-entropy")
    p.add_argument("--save_dtype", choices=("float32", "float16"), default="float32",
                   help="storage type of the .npy (float16 halves a t5-base FIM's 0.8 GB)")
    p.add_argument("--overwrite", type=cli.str2bool, default=False, help="replace an existing output file")
    cli.add_common_args(p)
    args = p.parse_args(argv)
    check_embedding_flags(vars(args))
    suffix = ".jsonl" if args.generate_model_data_only else ".npy"
    if not args.save_path.endswith(suffix):
        args.save_path += suffix
    return args


def main(argv: Sequence[str] | None = None) -> np.ndarray | int:
    args = parse_args(argv)
    with writing(args.save_path):  # the one run writing it (a second is refused) until it returns
        return _main(args, argv)


def _main(args: argparse.Namespace, argv: Sequence[str] | None) -> np.ndarray | int:
    save_path = Path(args.save_path)
    if unfinished(save_path):
        logger.warning("%s: a run writing it did not finish (its record says so); it is computed again", save_path)
    elif save_path.exists() and not args.overwrite:
        raise FuteError(f"{save_path} already exists; pass --overwrite True to replace it, or choose another "
                        f"--save_path")
    check_writable(save_path)
    device = cli.start(args)
    from task_emb import embed  # torch, transformers and pandas: loaded once the flags are known to be good

    if args.generate_model_data_only:
        return embed.llm_inputs(vars(args), argv, __file__)
    return embed.task_embedding(vars(args), device, argv, __file__)


if __name__ == "__main__":
    cli.exit_with(main)
