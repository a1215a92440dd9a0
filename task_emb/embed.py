"""One run of run_task_emb.py once its flags are checked: a task embedding with its record, or x' for an LLM.

`flags` is the command line as run_task_emb.py parses it (a dict of its flags; the record keeps it
as the run's config). The steps (task_emb/pipeline.py) in order: hyper-parameters, the training
set of the input (a labelled dataset, a fine-tuned model on x', or an LLM's y'), the family's
`learn` (task_emb/families.py), the under-training check, and the record (task_emb/record.py).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from configs.hparams import UNSUP_POOL
from data_utils.artifacts.completion import begin, fresh_start
from data_utils.artifacts.model_inputs import write_model_inputs
from data_utils.artifacts.paths import record_path
from data_utils.artifacts.text_prints import text_hashes, write_prints
from data_utils.declarations import get_spec
from data_utils.errors import FuteError
from data_utils.io import json_sha256, run_record, write_json
from data_utils.pool_inputs import build_inputs, select_model_inputs
from data_utils.unsup_pool import PoolExample, load_pool
from task_emb import pipeline, record, undertraining
from task_emb.families import family as registered
from task_emb.models import load_tokenizer, model_fingerprint, resolve_checkpoint
from task_emb.surrogate import DatasetSource, LearnOptions, TrainingSet
from task_emb.trainer import finish, resume_path_for, run_identity

logger = logging.getLogger(__name__)

# The flags that override a family's default hyper-parameters (None: not given).
HP_FLAGS = ("learning_rate", "max_epochs", "batch_size", "gradient_accumulation_steps", "max_len")


def task_embedding(flags: Mapping[str, Any], device, argv: Sequence[str] | None, script: str) -> np.ndarray:
    """Learn the embedding the flags ask for and write it to --save_path with its record; return it as stored."""
    save_path = Path(flags["save_path"])
    resume_path = resume_path_for(save_path)
    if fresh_start(save_path, run_record(dict(flags), argv, script), flags["overwrite"]) and finish(resume_path):
        logger.info("--overwrite True: %s discarded, training starts afresh", resume_path)  # a killed or finished run's
    family = registered(flags["task_emb_type"])
    method = family.config.method(fute=not flags["is_baseline"])
    input_kind = "llm" if flags["llm_mode"] else flags["input_type"]
    surrogate = flags["task_emb_model_lm_name"]
    hp = pipeline.hyper_parameters(input_kind, flags["task_type"], family.name, flags["is_baseline"],
                                   {key: flags[key] for key in HP_FLAGS})
    checkpoint = resolve_checkpoint(flags["load_path"]) if input_kind == "model" else None
    pipeline.check_input_length(family.name, surrogate, hp["max_len"], checkpoint)
    tokenizer = load_tokenizer(surrogate, "--task_emb_model_lm_name")
    training = _training_set(flags, input_kind, checkpoint, tokenizer, hp, device)

    # A saved training state is resumed only by a run on the same examples (their targets: gold labels, or the
    # y' of the model or LLM embedded), dev set and surrogate.
    dev = training.source.dev_examples_sha256 if isinstance(training.source, DatasetSource) else None
    identity = run_identity(flags, train_data=json_sha256(training.features), dev_data=dev,
                            start_model=model_fingerprint(surrogate))
    options = LearnOptions(seed=flags["seed"], shuffle=flags["data_loader_shuffle"],
                           fim_estimator=flags["fim_estimator"], soft_label_loss=flags["soft_label_loss"],
                           resume_path=resume_path, identity=identity)
    kind = "DTE" if input_kind == "data" else "MTE"
    report = family.learn(surrogate, training, tokenizer, hp, device, options)
    dataset = training.source if isinstance(training.source, DatasetSource) else None
    undertrained = undertraining.check(report, dataset and dataset.dev_guess, kind, training.label,
                                       dataset and dataset.num_dev_examples)

    vector = np.asarray(report.embedding).astype(flags["save_dtype"])
    config = record.record_config(flags, device, hp, training.source, report, undertrained)
    if training.texts is not None:  # beside the embedding, before its record (written last: the completion marker)
        config["texts"] = write_prints(save_path, training.texts)
    info = record.save(save_path, vector, training, method, kind, flags, config, argv, script)
    finish(resume_path)
    logger.info("saved %s embedding of %s (%d values) to %s", info.method, info.label, info.dim, save_path)
    return vector


def _training_set(flags: Mapping[str, Any], input_kind: str, checkpoint: str | None, tokenizer, hp: Mapping[str, Any],
                  device) -> TrainingSet:
    """The surrogate's training set for the input: a labelled dataset, a fine-tuned model on x', or an LLM's y'."""
    task_type, max_len, micro_batch = flags["task_type"], hp["max_len"], hp["micro_batch_size"]
    if input_kind == "data":
        spec = get_spec(flags["to_train_dataset"])
        if (spec.task_class == "qa") != (task_type == "qa"):
            raise FuteError(f"{spec.name} is a {spec.task_class} dataset; use --task_type {spec.task_class}")
        return pipeline.data_training_set(spec, tokenizer, max_len, flags["dataset_path"], flags["max_train_examples"],
                                          flags["seed"], micro_batch, device, flags["max_dev_examples"])
    if input_kind == "model":
        spec, data = pipeline.model_dataset_of(flags["load_path"], flags["to_train_dataset"])
        if spec.task_class != task_type:
            raise FuteError(f"the model was fine-tuned on {spec.name}, a {spec.task_class} dataset; use --task_type "
                            f"{spec.task_class}")
        pool, pool_info = _pool(flags, "transfer")
        inputs = build_inputs(pool, task_type, cr_is_pair=spec.is_pair)
        return pipeline.model_training_set(checkpoint, spec, inputs, tokenizer, max_len, micro_batch, device,
                                           pool_info, data, pool_texts(pool))
    return pipeline.llm_training_set(flags["load_path"], task_type, flags["lm_model_name"], tokenizer, max_len,
                                     flags["seed"])


def _pool(flags: Mapping[str, Any], exclude: str) -> tuple[list, dict]:
    """The x' pool the flags name (data_utils.unsup_pool.load_pool) minus the `exclude` list, drawn with the run's
    --seed, with its record."""
    return load_pool(exclude, flags["max_data_for_task_emb_train"], flags["seed"], flags["unsup_data_path"],
                     flags["model_te_read_num_processes"], flags["allow_partial_pool"])


def pool_texts(examples: Sequence[PoolExample]) -> np.ndarray:
    """The fingerprint of pool examples (data_utils/artifacts/text_prints.py): each text and text_pair."""
    return text_hashes(text for example in examples for text in (example.text, example.text_pair))


def llm_inputs(flags: Mapping[str, Any], argv: Sequence[str] | None, script: str) -> int:
    """x' for an LLM: the pool minus the task's evaluation sets, cut to the surrogate's input budget, written to
    --save_path with its record (the pool it was drawn from, the lines written) and the fingerprint of that pool's
    texts beside it; returns the number of lines."""
    tokenizer = load_tokenizer(flags["task_emb_model_lm_name"], "--task_emb_model_lm_name")
    examples, pool_info = _pool(flags, flags["task_type"])
    config = {**flags, "pool": pool_info}
    begin(flags["save_path"], run_record(config, argv, script))  # unfinished until its record is written
    inputs = select_model_inputs(examples, flags["task_type"], max_lines=UNSUP_POOL["max_llm_lines"],
                                 seed=flags["seed"], tokenizer=tokenizer)
    count = write_model_inputs(flags["save_path"], inputs)
    texts = write_prints(flags["save_path"], pool_texts(examples))
    write_json(record_path(flags["save_path"]), run_record({**config, "lines": count, "texts": texts}, argv, script))
    return count
