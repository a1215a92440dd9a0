"""Fine-tuning an LM on one CR or QA dataset, optionally continuing from a checkpoint (task transfer).

Shared by run_cr_train.py and run_qa_train.py, which differ only in the task
type (their flags: task_emb/options.py). Reads top to bottom: args -> data -> model ->
train -> evaluate -> save.
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from data_utils import cli
from data_utils.artifacts.completion import begin, fresh_start, unfinished, writing
from data_utils.artifacts.data_identity import describe
from data_utils.artifacts.scores import ScoreRecord, score_run_record, write_checkpoint_record, write_finetune_score
from data_utils.chance import dev_guess
from data_utils.declarations import get_spec
from data_utils.errors import FuteError
from data_utils.io import check_writable, json_sha256, run_record
from data_utils.loading import load_examples
from modeling.features import make_loader, tokenize_cr, tokenize_qa
from task_emb.evaluation import evaluate_cr, evaluate_qa
from task_emb.models import (RECORD_NAME, STATE_DICT_NAME, check_checkpoint_finished, check_max_len,
                             fine_tuned_record, load_task_model, load_tokenizer, model_fingerprint, resolve_checkpoint,
                             save_checkpoint)
from task_emb.options import micro_batch_size
from task_emb.trainer import TrainConfig, finish, resume_path_for, run_identity, train

logger = logging.getLogger(__name__)


def run(task: str, args: argparse.Namespace, argv: Sequence[str] | None = None) -> dict[str, float]:
    """Fine-tune, evaluate on dev, save checkpoint + scores + run record; return the dev scores. The run holds
    its outputs' locks throughout (data_utils.artifacts.completion.writing): a second run writing them is refused."""
    with writing(args.score_save_path, *([args.model_save_path] if args.model_save_path else [])):
        return _run(task, args, argv)


def _run(task: str, args: argparse.Namespace, argv: Sequence[str] | None) -> dict[str, float]:
    # Check every output location before spending any compute.
    spec = get_spec(args.to_train_dataset, task)
    killed = unfinished(args.score_save_path) is not None  # its run began saving and did not finish
    if killed:
        logger.warning("%s: a run writing it did not finish (its record says so); it is finished now",
                       args.score_save_path)
    elif Path(args.score_save_path).exists() and not args.overwrite:
        raise FuteError(f"{args.score_save_path} already exists; pass --overwrite True to replace it "
                        f"(and its checkpoint), or choose another --score_save_path")
    check_writable(args.score_save_path)
    resume_path = resume_path_for(args.score_save_path)  # a killed run of these flags continues from it
    if args.model_save_path:
        checkpoint = Path(args.model_save_path) / STATE_DICT_NAME
        if checkpoint.exists() and not args.overwrite and not resume_path.exists() and not killed:
            raise FuteError(f"{args.model_save_path} already holds a checkpoint (of another run, or of this one killed "
                            f"before its scores were written); pass --overwrite True to replace it, or choose another "
                            f"--model_save_path")
        check_writable(Path(args.model_save_path) / STATE_DICT_NAME)
    source = _source_data(args.load_path)  # also checks that --load_path holds a model
    check_max_len(resolve_checkpoint(args.load_path) if args.load_path else args.lm_model_name, args.max_len,
                  model_flag="--load_path" if args.load_path else "--lm_model_name")
    if fresh_start(args.score_save_path, run_record(vars(args), argv, f"run_{task}_train.py"), args.overwrite):
        if finish(resume_path):  # --overwrite True: a saved state is a killed or finished run's, not this one's
            logger.info("--overwrite True: %s discarded, training starts afresh", resume_path)
    device = cli.start(args)

    # Data.
    tokenizer = load_tokenizer(_tokenizer_source(args))
    splits = load_examples(spec, args.dataset_path, args.max_train_examples, args.seed, args.max_dev_examples)
    micro_batch = micro_batch_size(vars(args))
    if task == "cr":
        train_features = tokenize_cr(splits["train"], tokenizer, args.max_len)
        dev_features = tokenize_cr(splits["dev"], tokenizer, args.max_len)
    else:
        train_features, _ = tokenize_qa(splits["train"], tokenizer, args.max_len)
        dev_features, dev_meta = tokenize_qa(splits["dev"], tokenizer, args.max_len)
    train_loader = make_loader(train_features, tokenizer, micro_batch, args.data_loader_shuffle, args.seed)
    dev_batches = list(make_loader(dev_features, tokenizer, micro_batch, shuffle=False))

    # Model (a new head, or the checkpoint's head when its shape fits).
    model = load_task_model(spec, args.lm_model_name, tokenizer, args.load_path).to(device)

    # Train for a fixed number of epochs, as the reference did.
    config = TrainConfig(learning_rate=args.learning_rate, max_epochs=args.max_epochs,
                         gradient_accumulation_steps=args.gradient_accumulation_steps)
    identity = run_identity(vars(args), train_data=json_sha256(splits["train"]),
                            start_model=model_fingerprint(args.load_path or args.lm_model_name))
    train(model, train_loader, lambda batch: model(**batch).loss, config, device, desc=spec.name,
          resume_path=resume_path, identity=identity)

    # Evaluate on dev and save.
    if task == "cr":
        scores = evaluate_cr(model, dev_batches, spec, device)
    else:
        scores = evaluate_qa(model, dev_batches, splits["dev"], dev_meta, device)
    logger.info("%s dev scores: %s", spec.name, {k: round(v, 4) for k, v in scores.items()})
    about = ScoreRecord(to_train_dataset=args.to_train_dataset, task_type=task, main_metric=spec.main_metric,
                        data=describe(spec, args.dataset_path), load_path=args.load_path,
                        source_dataset=source and source["name"], source_data=source and source["data"],
                        lm_model_name=args.lm_model_name, max_train_examples=args.max_train_examples,
                        num_train_examples=len(splits["train"]), num_dev_examples=len(splits["dev"]),
                        dev_guess=dev_guess(spec, splits["dev"]), seed=args.seed)
    record = score_run_record(run_record({**vars(args), "device": str(device)}, argv, f"run_{task}_train.py"), about)
    # The score's record is pending while the outputs are written, each before its own record; its final
    # record, written last, marks the run finished (data_utils/artifacts/completion.py).
    begin(args.score_save_path, record)
    if args.model_save_path:
        (Path(args.model_save_path) / RECORD_NAME).unlink(missing_ok=True)
        save_checkpoint(model, tokenizer, args.model_save_path)
        write_checkpoint_record(args.model_save_path, record)
    write_finetune_score(args.score_save_path, scores, record)
    finish(resume_path)
    return scores


def _tokenizer_source(args: argparse.Namespace) -> str:
    """A checkpoint carries its tokenizer; a base model name is the fallback."""
    if args.load_path:
        checkpoint = Path(resolve_checkpoint(args.load_path))
        if (checkpoint / "tokenizer_config.json").is_file():
            return str(checkpoint)
    return args.lm_model_name


def _source_data(load_path: str | None) -> dict | None:
    """The data the --load_path checkpoint was fine-tuned on, as its record names it (for transfer tables):
    {"name", "data"}; None without --load_path, {"name": None} for a checkpoint without a record."""
    if not load_path:
        return None
    check_checkpoint_finished(load_path)
    about = fine_tuned_record(load_path)
    if about is None:
        logger.warning("%s has no %s: the transfer source is unknown to the evaluation", load_path, RECORD_NAME)
        return {"name": None, "data": None}
    return {"name": about.dataset().name, "data": about.data}
