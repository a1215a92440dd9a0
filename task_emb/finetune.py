"""Fine-tuning an LM on one CR or QA dataset, optionally continuing from a checkpoint (task transfer).

Shared by run_cr_train.py and run_qa_train.py, which differ only in the task
type. Reads top to bottom: args -> data -> model -> train -> evaluate -> save.
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from configs.hparams import FINETUNE
from data_utils import cli
from data_utils.artifacts.completion import begin, record_path, unfinished
from data_utils.artifacts.data_identity import describe, from_config
from data_utils.errors import FuteError
from data_utils.features import make_loader, tokenize_cr, tokenize_qa
from data_utils.io import ensure_parent_writable, run_record, write_json
from data_utils.chance import chance_score
from data_utils.declarations import get_spec
from data_utils.loading import load_examples
from task_emb.evaluation import evaluate_cr, evaluate_qa
from task_emb.models import (RECORD_NAME, STATE_DICT_NAME, check_checkpoint_finished, fine_tuned_config,
                             load_task_model, load_tokenizer, resolve_checkpoint, save_checkpoint)
from task_emb.trainer import (TrainConfig, check_training_flags, finish, micro_batch_size, resume_path_for,
                              run_identity, train)

logger = logging.getLogger(__name__)


def build_parser(task: str) -> argparse.ArgumentParser:
    defaults = FINETUNE[task]
    what = {"cr": "a classification/regression", "qa": "an extractive QA"}[task]
    parser = argparse.ArgumentParser(description=f"Fine-tune an LM on {what} dataset (optionally after another).")
    parser.add_argument("--to_train_dataset", required=True,
                        help="the dataset: a registry name (configs/datasets.yaml) or the path of a declaration file "
                             "(.yaml, .yml, .json) of one's own (docs/your_data.md)")
    parser.add_argument("--lm_model_name", required=True,
                        help="base model: Hugging Face id or local folder (also its tokenizer when --load_path "
                             "has none)")
    parser.add_argument("--model_save_path", default=None,
                        help="folder for the checkpoint (hf_checkpoint/ + torch_checkpoint.pt); omit it to keep "
                             "only the scores, e.g. for transfer runs that no later step loads")
    parser.add_argument("--score_save_path", required=True, help="dev scores JSON ('.json' is appended if missing)")
    parser.add_argument("--load_path", default=None,
                        help="continue from this checkpoint (a --model_save_path of an earlier run): task transfer")
    parser.add_argument("--gradient_accumulation_steps", type=int, default=1,
                        help="split each batch of --batch_size examples into this many forward passes")
    parser.add_argument("--max_epochs", type=int, default=defaults["max_epochs"], help="training epochs")
    parser.add_argument("--learning_rate", type=float, default=defaults["learning_rate"], help="AdamW learning rate")
    parser.add_argument("--batch_size", type=int, default=defaults["batch_size"],
                        help="effective batch size (examples per optimiser step)")
    parser.add_argument("--max_len", type=int, default=defaults["max_len"], help="maximum tokens per input")
    parser.add_argument("--max_train_examples", type=int, default=None,
                        help="use a seeded sample of at most this many training examples")
    parser.add_argument("--max_dev_examples", type=cli.positive_int, default=None,
                        help="score on a seeded sample of at most this many dev examples (default: all)")
    parser.add_argument("--dataset_path", default=None,
                        help="read the dataset from here instead of the hub or its declared files: a folder with one "
                             "file per split, or one file (the training split; dev is a seeded 80/20 cut of it)")
    parser.add_argument("--data_loader_shuffle", type=cli.str2bool, default=True,
                        help="shuffle the training data every epoch (True/False)")
    parser.add_argument("--overwrite", type=cli.str2bool, default=False,
                        help="replace an existing score file and checkpoint instead of refusing")
    cli.add_common_args(parser)
    return parser


def parse_args(task: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = build_parser(task).parse_args(argv)
    args.score_save_path = cli.with_suffix(args.score_save_path, ".json")
    check_training_flags(vars(args))
    return args


def run(task: str, args: argparse.Namespace, argv: Sequence[str] | None = None) -> dict[str, float]:
    """Fine-tune, evaluate on dev, save checkpoint + scores + run record; return the dev scores."""
    # Check every output location before spending any compute.
    spec = get_spec(args.to_train_dataset, task)
    killed = unfinished(args.score_save_path) is not None  # its run began saving and did not finish
    if killed:
        logger.warning("%s: a run writing it did not finish (its record says so); it is finished now",
                       args.score_save_path)
    elif Path(args.score_save_path).exists() and not args.overwrite:
        raise FuteError(f"{args.score_save_path} already exists; pass --overwrite True to replace it "
                        f"(and its checkpoint), or choose another --score_save_path")
    ensure_parent_writable(args.score_save_path)
    resume_path = resume_path_for(args.score_save_path)  # a killed run of these flags continues from it
    if args.model_save_path:
        checkpoint = Path(args.model_save_path) / STATE_DICT_NAME
        if checkpoint.exists() and not args.overwrite and not resume_path.exists() and not killed:
            raise FuteError(f"{args.model_save_path} already holds a checkpoint (of another run, or of this one killed "
                            f"before its scores were written); pass --overwrite True to replace it, or choose another "
                            f"--model_save_path")
        ensure_parent_writable(Path(args.model_save_path) / "x")
    source = _source_data(args.load_path)  # also checks that --load_path holds a model
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
    train(model, train_loader, lambda batch: model(**batch).loss, config, device, desc=spec.name,
          resume_path=resume_path, identity=run_identity(vars(args)))

    # Evaluate on dev and save.
    if task == "cr":
        scores = evaluate_cr(model, dev_batches, spec, device)
    else:
        scores = evaluate_qa(model, dev_batches, splits["dev"], dev_meta, device)
    logger.info("%s dev scores: %s", spec.name, {k: round(v, 4) for k, v in scores.items()})
    config = _resolved_config(task, args, spec, device, source, len(splits["train"]), len(splits["dev"]))
    config["dev_guess"] = _dev_guess(spec, splits["dev"])
    record = run_record(config, argv, f"run_{task}_train.py")
    # The score's record is pending while the outputs are written, each before its own record; its final
    # record, written last, marks the run finished (data_utils/artifacts/completion.py).
    begin(args.score_save_path, record)
    if args.model_save_path:
        (Path(args.model_save_path) / RECORD_NAME).unlink(missing_ok=True)
        save_checkpoint(model, tokenizer, args.model_save_path)
        write_json(Path(args.model_save_path) / RECORD_NAME, record)
    write_json(args.score_save_path, scores)
    write_json(record_path(args.score_save_path), record)
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
    config = fine_tuned_config(load_path)
    if config is None:
        logger.warning("%s has no %s: the transfer source is unknown to the evaluation", load_path, RECORD_NAME)
        return {"name": None, "data": None}
    return {"name": from_config(config).name, "data": config.get("data")}


def _dev_guess(spec, dev: list[dict]) -> dict | None:
    """The score on these dev examples of the best guess that reads no input (data_utils/chance.py), recorded
    so that a reader of the scores can tell learning from a constant answer; None for regression."""
    guess = chance_score(spec, dev)
    return None if guess is None else {"score": guess[0], "guess": guess[1]}


def _resolved_config(task, args, spec, device, source, n_train, n_dev) -> dict:
    """The flags, resolved values and the data: which dataset (`data`, data_utils/artifacts/data_identity.py) and,
    for a transfer run, the dataset its model was fine-tuned on first (`source_dataset`, `source_data`)."""
    config = dict(vars(args))
    config.update(task_type=task, device=str(device), main_metric=spec.main_metric,
                  source_dataset=source and source["name"], source_data=source and source["data"],
                  num_train_examples=n_train, num_dev_examples=n_dev, data=describe(spec, args.dataset_path))
    return config
