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
from configs.methods import FAMILIES_BY_NAME, method_of
from data_utils import cli
from data_utils.errors import FuteError
from data_utils.artifacts.completion import begin, fresh_start, unfinished, writing
from data_utils.artifacts.paths import record_path
from data_utils.artifacts.embeddings import EmbeddingInfo, write_embedding
from data_utils.artifacts.model_inputs import write_model_inputs
from data_utils.io import check_writable, json_sha256, run_record, write_json
from data_utils.unsup_pool import (build_inputs, check_pool_failures, drop_excluded_sources, load_hub_pool, pool_names,
                                   pool_record, read_local_pool, sample_per_source, select_model_inputs,
                                   shuffle_examples)
from task_emb.options import FIM_ESTIMATORS, SOFT_LABEL_LOSSES

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
    p.add_argument("--task_emb_type", required=True, choices=tuple(FAMILIES_BY_NAME),
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
    _check_mode(args)
    suffix = ".jsonl" if args.generate_model_data_only else ".npy"
    if not args.save_path.endswith(suffix):
        args.save_path += suffix
    return args


def _check_mode(args: argparse.Namespace) -> None:
    """Reject flag combinations that have no meaning, with the fix in the message."""
    if args.generate_model_data_only:
        if args.task_type not in ("sa", "nli"):
            raise FuteError("--generate_model_data_only writes LLM inputs: use --task_type sa or nli")
        return
    if args.task_emb_type == "text" and args.input_type != "data":
        raise FuteError("--task_emb_type text (TextEmb) describes a dataset: use --input_type data")
    if args.input_type == "model" and args.is_baseline:
        raise FuteError("--is_baseline True only applies to --input_type data: a model task embedding is FUTE's")
    if args.llm_mode:
        if args.input_type != "model" or args.task_type not in ("sa", "nli") or not args.load_path:
            raise FuteError("--llm_mode True needs --input_type model, --task_type sa|nli and --load_path "
                            "pointing at the JSONL of run_llm_inference_for_te.py")
    elif args.input_type == "model":
        if args.task_type not in ("cr", "qa") or not args.load_path:
            raise FuteError("--input_type model needs --task_type cr|qa and --load_path (a fine-tuned checkpoint); "
                            "for an LLM add --llm_mode True")
    elif not args.to_train_dataset:
        raise FuteError("--input_type data needs --to_train_dataset")


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
    if args.generate_model_data_only:
        return generate_model_inputs(args, argv)
    # torch, transformers and pandas: loaded once the flags are known to be good.
    from data_utils.declarations import get_spec
    from task_emb import pipeline
    from task_emb.models import describe_model, load_tokenizer, model_fingerprint, resolve_checkpoint
    from task_emb.surrogate import LearnOptions
    from task_emb.trainer import finish, resume_path_for, run_identity

    if fresh_start(save_path, run_record(vars(args), argv, __file__), args.overwrite):
        if finish(resume_path_for(save_path)):  # --overwrite True: a saved state is a killed or finished run's
            logger.info("--overwrite True: %s discarded, training starts afresh", resume_path_for(save_path))

    # Hyper-parameters: the family's defaults (configs/methods.py), flags win.
    input_kind = "llm" if args.llm_mode else args.input_type
    hp = pipeline.hyper_parameters(input_kind, args.task_type, args.task_emb_type, args.is_baseline, {
        "learning_rate": args.learning_rate, "max_epochs": args.max_epochs, "batch_size": args.batch_size,
        "gradient_accumulation_steps": args.gradient_accumulation_steps, "max_len": args.max_len})
    checkpoint = resolve_checkpoint(args.load_path) if input_kind == "model" else None
    pipeline.check_input_length(args.task_emb_type, args.task_emb_model_lm_name, hp["max_len"], checkpoint)
    tokenizer = load_tokenizer(args.task_emb_model_lm_name)
    micro_batch = hp["micro_batch_size"]

    # Training data for the surrogate.
    if input_kind == "data":
        spec = get_spec(args.to_train_dataset)
        if (spec.task == "qa") != (args.task_type == "qa"):
            raise FuteError(f"{spec.name} is a {spec.task} dataset; use --task_type {spec.task}")
        training = pipeline.data_training_set(spec, tokenizer, hp["max_len"], args.dataset_path,
                                              args.max_train_examples, args.seed, micro_batch, device,
                                              args.max_dev_examples)
    elif input_kind == "model":
        checkpoint = resolve_checkpoint(args.load_path)
        spec, data = pipeline.model_dataset_of(args.load_path, args.to_train_dataset)
        if spec.task != args.task_type:
            raise FuteError(f"the model was fine-tuned on {spec.name}, a {spec.task} dataset; use --task_type {spec.task}")
        pool, pool_info = load_pool(args, exclude="transfer")
        inputs = build_inputs(pool, args.task_type, cr_is_pair=spec.is_pair)
        training = pipeline.model_training_set(checkpoint, spec, inputs, tokenizer, hp["max_len"], micro_batch, device)
        training.info.update(pool=pool_info, data=data)
    else:
        training = pipeline.llm_training_set(args.load_path, args.task_type, args.lm_model_name, tokenizer, hp["max_len"])

    # Learn the embedding on the surrogate and save it with its record.
    embedding_method = method_of(args.task_emb_type, fute=not args.is_baseline)
    # A saved training state is resumed only by a run on the same examples (their targets: gold labels, or the
    # y' of the model or LLM embedded), dev set and surrogate.
    identity = run_identity(vars(args), train_data=json_sha256(training.features),
                            dev_data=training.info.get("dev_examples_sha256"),
                            start_model=model_fingerprint(args.task_emb_model_lm_name))
    options = LearnOptions(seed=args.seed, shuffle=args.data_loader_shuffle, fim_estimator=args.fim_estimator,
                           soft_label_loss=args.soft_label_loss, resume_path=resume_path_for(save_path),
                           identity=identity)
    kind = "DTE" if input_kind == "data" else "MTE"
    embedding = pipeline.learn_embedding(args.task_emb_type, args.task_emb_model_lm_name, training, tokenizer, hp,
                                         device, options, kind)
    embedding = embedding.astype(args.save_dtype)
    info = EmbeddingInfo(method=embedding_method.id, family=embedding_method.family, fute=embedding_method.fute,
                         kind=kind, task=training.task,
                         model=training.llm if args.llm_mode else _named(args.lm_model_name, input_kind),
                         llm=args.llm_mode, prompt=training.prompt, surrogate=args.task_emb_model_lm_name,
                         seed=args.seed, dim=int(embedding.shape[0]), dtype=args.save_dtype,
                         surrogate_ref=describe_model(args.task_emb_model_lm_name, save_path.parent),
                         model_ref=describe_model(args.load_path, save_path.parent) if input_kind == "model" else None)
    config = {**vars(args), "device": str(device), "hyper_parameters": hp, **training.info}
    write_embedding(save_path, embedding, info, run_record(config, argv, __file__))
    finish(options.resume_path)
    logger.info("saved %s embedding of %s (%d values) to %s", info.method, info.label, info.dim, save_path)
    return embedding


def _named(model: str, input_kind: str) -> str | None:
    """The model an LM's MTE describes, as --lm_model_name names it (None for a DTE or when not given)."""
    return None if input_kind == "data" or model == "none" else model


def load_pool(args: argparse.Namespace, exclude: str) -> tuple[list, dict]:
    """(x' pool, its record): local JSONL or the hub's CrossFit datasets, minus the `exclude` list
    (by source name), at most N per source, shuffled once (seed 42, as the reference).

    Sources that failed are recorded; more than 10% of them stop the run unless --allow_partial_pool.
    """
    per_source = args.max_data_for_task_emb_train
    if args.unsup_data_path:
        examples, failed = read_local_pool(args.unsup_data_path)
        local = drop_excluded_sources(examples, exclude)
        if not local:
            raise FuteError(f"every example of --unsup_data_path {args.unsup_data_path} comes from a source excluded "
                            f"for {exclude!r} (configs/unsup_pool.py); add examples of other sources")
        examples = sample_per_source(local, per_source, UNSUP_POOL["seed"])
        total = len({example.source for example in local}) + len(failed)
    else:
        names = pool_names(exclude)
        examples, failed = load_hub_pool(names, per_source, UNSUP_POOL["seed"], args.model_te_read_num_processes)
        total = len(names)
    check_pool_failures(failed, total, args.allow_partial_pool)
    return shuffle_examples(examples, UNSUP_POOL["seed"]), pool_record(examples, failed)


def generate_model_inputs(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """x' for an LLM: the pool minus the task's evaluation sets, cut to the surrogate's input budget."""
    from task_emb.models import load_tokenizer

    tokenizer = load_tokenizer(args.task_emb_model_lm_name)
    examples, pool_info = load_pool(args, exclude=args.task_type)
    config = {**vars(args), "pool": pool_info}
    begin(args.save_path, run_record(config, argv, __file__))  # unfinished until its record is written
    inputs = select_model_inputs(examples, args.task_type, max_lines=UNSUP_POOL["max_llm_lines"],
                                 seed=UNSUP_POOL["seed"], tokenizer=tokenizer)
    count = write_model_inputs(args.save_path, inputs)
    write_json(record_path(args.save_path), run_record({**config, "lines": count}, argv, __file__))
    return count


if __name__ == "__main__":
    cli.exit_with(main)
