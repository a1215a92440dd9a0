"""One task embedding, from a labelled dataset (DTE), a fine-tuned model (MTE) or LLM outputs (MTE).

The steps, whatever the input:
1. training data for the surrogate T (a task_emb.surrogate.TrainingSet): T-tokenized inputs
   with their targets (gold labels; the soft labels y' of a model run once on x'; or LLM y');
2. the family's defaults (configs/methods.py) with the flags given;
3. the family's `learn` on T (task_emb/families.py): prefix (task_emb/prefix.py) freezes T
   and learns per-layer prefixes (+ head), the embedding is their layer-mean; fim
   (task_emb/fim.py) fine-tunes all of T, then takes the diagonal Fisher information of the
   loss over the training data; text (task_emb/textemb.py, the TextEmb baseline) trains
   nothing: the mean of T's final hidden states over the dataset's tokens.
task_emb/embed.py runs the steps in order and writes the embedding with its record.
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from configs.datasets import GENRE_LABELS, DatasetSpec
from data_utils.artifacts.answers import read_answers
from data_utils.artifacts.data_identity import describe
from data_utils.artifacts.model_inputs import inputs_of_answers
from data_utils.artifacts.text_prints import text_hashes
from data_utils.chance import dev_guess
from data_utils.declarations import get_spec, recorded_spec
from data_utils.errors import FuteError
from data_utils.io import json_sha256
from data_utils.loading import all_examples, sample_examples
from modeling.features import make_loader, tokenize_cr, tokenize_qa
from task_emb.evaluation import collect_outputs, evaluate_cr, evaluate_qa
from task_emb.families import family as registered
from task_emb.models import (RECORD_NAME, check_checkpoint_finished, check_max_len, fine_tuned_record,
                             load_head_model, load_tokenizer)
from task_emb.options import micro_batch_size, resolve_batch_split
from task_emb.surrogate import DatasetSource, Head, LlmSource, ModelSource, TrainingSet
from task_emb.targets import span_to_characters

logger = logging.getLogger(__name__)

# The text fields of an example (data_utils.examples: a CR example's; data_utils.loading.qa_examples: a QA one's).
EXAMPLE_TEXTS = ("text", "text_pair", "question", "context")


def hyper_parameters(input_kind: str, task_type: str, family: str, is_baseline: bool, overrides: dict) -> dict:
    """The defaults of the registered `family` (task_emb/families.py; their values: configs/methods.py) for this
    mode, with every flag the user gave taking precedence, and the micro-batch they imply ("micro_batch_size").

    A --batch_size given without --gradient_accumulation_steps gets accumulation steps that split it
    (task_emb.options.fitting_accumulation). Checked before any model loads: sizes and epochs at least 1,
    the batch a multiple of the accumulation steps (FuteError naming the flag)."""
    group = "qa" if task_type == "qa" else "cr"
    defaults = registered(family).config.defaults
    key = (input_kind, group, is_baseline)
    if key not in defaults:
        raise FuteError(f"no {family} task-embedding defaults for input {input_kind}, task {task_type}, baseline "
                        f"{is_baseline}; --is_baseline True only applies to --input_type data")
    values = resolve_batch_split(defaults[key], overrides)
    return {**values, "micro_batch_size": micro_batch_size(values)}


def check_input_length(family: str, surrogate: str, max_len: int, checkpoint: str | None = None) -> None:
    """--max_len against the positions of the surrogate T (less those the family's inputs do not get: the
    prefix's: the family's `reserved_positions`, task_emb/families.py) and of the fine-tuned model M read on x'
    (`checkpoint`); FuteError naming the flag and the value to pass (task_emb.models.check_max_len)."""
    check_max_len(surrogate, max_len, reserved=registered(family).reserved_positions,
                  model_flag="--task_emb_model_lm_name")
    if checkpoint is not None:
        check_max_len(checkpoint, max_len, model_flag="--load_path")


# ----------------------------------------------------------------------------- training data

def data_training_set(spec: DatasetSpec, tokenizer, max_len: int, dataset_path: str | None,
                      max_train_examples: int | None, seed: int, micro_batch: int, device,
                      max_dev_examples: int | None = None) -> TrainingSet:
    """A labelled dataset: gold labels; the dev split (or a seeded sample of it) drives early stopping, and the
    surrogate's final score on it is checked against the guess that reads no input (task_emb/undertraining.py);
    its fingerprint, dev_examples_sha256, is part of what a resumed run must match (task_emb.trainer.run_identity).
    The set's `texts` fingerprint every text of both splits, uncut: x' drawn from any row of the dataset hold its
    text, whether or not the DTE's sample holds that row."""
    everything = all_examples(spec, dataset_path)
    texts = text_hashes(example.get(field) for examples in everything.values() for example in examples
                        for field in EXAMPLE_TEXTS)
    splits = sample_examples(spec, everything, max_train_examples, seed, max_dev_examples)
    if spec.task_class == "qa":
        features, _ = tokenize_qa(splits["train"], tokenizer, max_len)
        dev_features, dev_meta = tokenize_qa(splits["dev"], tokenizer, max_len)
        dev_batches = list(make_loader(dev_features, tokenizer, micro_batch, shuffle=False))

        def evaluate(model):
            return evaluate_qa(model, dev_batches, splits["dev"], dev_meta, device)
    else:
        features = tokenize_cr(splits["train"], tokenizer, max_len)
        dev_batches = list(make_loader(tokenize_cr(splits["dev"], tokenizer, max_len), tokenizer, micro_batch, False))

        def evaluate(model):
            return evaluate_cr(model, dev_batches, spec, device)
    head = Head(spec.task_class, spec.labels, spec.regression)
    dev = splits["dev"]
    source = DatasetSource(len(features), len(dev), dev_guess(spec, dev), json_sha256(dev), describe(spec, dataset_path))
    return TrainingSet(features, head, "span" if spec.task_class == "qa" else "gold", spec.name, evaluate, source,
                       texts=texts)


def model_training_set(checkpoint: str, spec: DatasetSpec, inputs: list[dict], tokenizer, max_len: int,
                       micro_batch: int, device, pool: dict | None = None, data: dict | None = None,
                       texts: np.ndarray | None = None) -> TrainingSet:
    """A fine-tuned model M on x': its outputs y' are computed once here and reused every epoch. `pool` (the x'
    pool's record) and `data` (M's fine-tuning data, `model_dataset_of`) go into its ModelSource; `texts`: the
    fingerprint of the pool x' were drawn from."""
    m_tokenizer = load_tokenizer(checkpoint)
    m_model = load_head_model(checkpoint, spec.task_class, spec.labels, spec.regression, m_tokenizer,
                              own_head=True).to(device)
    if spec.task_class == "qa":
        examples = [{"id": str(i), "question": x["text"], "context": x["text_pair"],
                     "answers": {"text": [], "answer_start": []}} for i, x in enumerate(inputs)]
        # longest_first, as the reference tokenized x': a single pool text sits in the question
        # slot with an empty context, and only_second could not cut it.
        m_features, m_meta = tokenize_qa(examples, m_tokenizer, max_len, truncation="longest_first")
        outputs, _ = collect_outputs(m_model, make_loader(m_features, m_tokenizer, micro_batch, False), device,
                                     ("start_logits", "end_logits"), desc=f"y' of {spec.name}'s model on x'")
        # Argmax over each feature's own tokens: the batch's padding is no prediction of M, and
        # leaving it out makes y' independent of which examples share a batch.
        lengths = [len(offsets) for offsets in m_meta["offsets"]]
        starts = [int(row[:n].argmax()) for row, n in zip(_rows(outputs["start_logits"]), lengths)]
        ends = [int(row[:n].argmax()) for row, n in zip(_rows(outputs["end_logits"]), lengths)]
        answered = 0
        for example, start, end, offsets in zip(examples, starts, ends, m_meta["offsets"]):
            span = span_to_characters(start, end, offsets)
            if span is not None:
                example["answers"] = {"text": [example["context"][span[0]:span[1]]], "answer_start": [span[0]]}
                answered += 1
        if not answered:
            # Every target is "no answer": the embedding describes no answering at all. A warning, not an error:
            # an untrained model's MTE is a legitimate point of comparison; its record says answered_fraction 0.
            logger.warning("%s answers none of the %d x' questions (every argmax span is outside the context): its MTE "
                           "learns no answer; check that it is a trained QA model (its dev scores)", checkpoint,
                           len(examples))
        features, _ = tokenize_qa(examples, tokenizer, max_len, truncation="longest_first")
        answered_fraction = answered / max(1, len(examples))
        target = "span"
    else:
        m_features = tokenize_cr(inputs, m_tokenizer, max_len)
        outputs, _ = collect_outputs(m_model, make_loader(m_features, m_tokenizer, micro_batch, False), device,
                                     ("logits",), desc=f"y' of {spec.name}'s model on x'")
        logits = torch.from_numpy(np.concatenate(outputs["logits"]))
        targets = logits[:, 0] if spec.regression else torch.softmax(logits, dim=-1)
        features = tokenize_cr(inputs, tokenizer, max_len)
        for feature, value in zip(features, targets.tolist()):
            feature["labels"] = value
        answered_fraction = None
        target = "value" if spec.regression else "soft"
    del m_model
    source = ModelSource(len(features), pool, data, answered_fraction)
    return TrainingSet(features, Head(spec.task_class, spec.labels, spec.regression), target, spec.name, source=source,
                       texts=texts)


def _rows(batches: list[np.ndarray]):
    """Per-batch [b, len] arrays -> their rows, in order."""
    return (row for batch in batches for row in batch)


def llm_training_set(path: str, task_type: str, llm_name: str, tokenizer, max_len: int, seed: int) -> TrainingSet:
    """The LLM's answers y' to x' (the JSONL of run_llm_inference_for_te.py): its label distributions; the pool its
    x' were drawn from and their fingerprint, as the x' file's record says (`inputs_of_answers`). y' lines that name
    a seed must name `seed`, the MTE's: its record names one seed's run, as the tables group them."""
    answers = read_answers(path, task_type)
    if answers.seed is not None and answers.seed != seed:
        raise FuteError(f"the y' in {path} were made with --seed {answers.seed} (their x' drawn and the LLM run under "
                        f"it), and this MTE's --seed is {seed}: pass --seed {answers.seed}, or make y' under "
                        f"--seed {seed} first")
    pool, texts = inputs_of_answers(path)
    features = tokenize_cr(answers.inputs, tokenizer, max_len)
    for feature, probs in zip(features, answers.probs):
        feature["labels"] = probs
    source = LlmSource(len(features), answers.model, answers.prompt, answers.complete, pool)
    # The LLM as the y' lines name it (as run_llm_inference.py's files do); --lm_model_name when they do not.
    llm = answers.model or (llm_name if llm_name != "none" else "llm")
    return TrainingSet(features, Head("cr", GENRE_LABELS[task_type]), "soft", dataset=None, genre=task_type,
                       source=source, llm=llm, prompt=answers.prompt, texts=texts)


def model_dataset_of(load_path: str, to_train_dataset: str | None) -> tuple[DatasetSpec, dict]:
    """(the dataset a checkpoint was fine-tuned on, its data entry): --to_train_dataset (a registry name or a
    declaration file) or else the checkpoint's fute_record.json, which also names the data (its `data` entry,
    data_utils/artifacts/data_identity.py; an older record only the dataset)."""
    check_checkpoint_finished(load_path)
    about = fine_tuned_record(load_path)
    if to_train_dataset is None and about is None:
        raise FuteError(f"cannot tell which dataset {load_path} was fine-tuned on (no {RECORD_NAME} beside it); "
                        f"pass --to_train_dataset")
    where = f"{load_path}/{RECORD_NAME}"
    spec = get_spec(to_train_dataset) if to_train_dataset else recorded_spec(about.data, about.to_train_dataset, where)
    if about is not None and (recorded := about.dataset().name) != spec.name:
        raise FuteError(f"{load_path} was fine-tuned on {recorded} ({where}), not on "
                        f"{to_train_dataset}; drop --to_train_dataset or pass the right one")
    data = (about and about.data) or {"name": spec.name, "task": spec.task_class, "family": spec.family,
                                      "digest": None}
    return spec, data
