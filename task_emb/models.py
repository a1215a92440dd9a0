"""Loading and saving task models (classification, regression, extractive QA) of any architecture.

A model name is a Hugging Face id or a local folder. A checkpoint written by
`run_cr_train.py`/`run_qa_train.py` is a folder holding `hf_checkpoint/` (the
`save_pretrained` model and tokenizer) and `torch_checkpoint.pt` (its state dict),
the reference's layout, plus `fute_record.json` (how it was made, with the dataset
in config.to_train_dataset); `--load_path` accepts that folder or an `hf_checkpoint`
folder directly.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import (AutoConfig, AutoModel, AutoModelForQuestionAnswering, AutoModelForSequenceClassification,
                          AutoTokenizer)

from configs.datasets import DatasetSpec
from configs.models import hub_id, looks_local
from data_utils.artifacts.model_ref import ModelRef, content_hash, local_candidates, local_ref
from data_utils.artifacts.paths import CHECKPOINT_RECORD
from data_utils.artifacts.scores import ScoreRecord, read_checkpoint_record
from data_utils.errors import FuteError
from data_utils.label_order import named, order_by_name
from modeling.hf_compat import head_parameter_names, load_pretrained, position_limit

logger = logging.getLogger(__name__)

# Task models are trained and read in float32 whatever dtype the checkpoint was saved in:
# transformers 5 loads a bfloat16/float16 checkpoint in that dtype by default, where a
# float32 prefix cannot meet it and AdamW steps of 1e-5 vanish in rounding (the
# original, on transformers 4, always got float32).
MODEL_DTYPE = torch.float32

HF_SUBDIR = "hf_checkpoint"
STATE_DICT_NAME = "torch_checkpoint.pt"
RECORD_NAME = CHECKPOINT_RECORD  # the checkpoint folder's record (data_utils/artifacts/paths.py)


def resolve_model_name(name: str) -> str:
    """What `from_pretrained` reads for a model name: an alias's hub id, the `hf_checkpoint/` of a
    checkpoint folder this project wrote (a --model_save_path), or the name unchanged."""
    name = hub_id(name)
    if (Path(name) / HF_SUBDIR / "config.json").is_file():
        return str(Path(name) / HF_SUBDIR)
    return name


def resolve_checkpoint(load_path: str, flag: str = "--load_path") -> str:
    """The folder that `from_pretrained` should read for a checkpoint path given by the user."""
    path = Path(load_path)
    if (path / HF_SUBDIR / "config.json").is_file():
        return str(path / HF_SUBDIR)
    if (path / "config.json").is_file():
        return str(path)
    if not path.exists():
        raise FuteError(f"{flag} {load_path} does not exist; point it at the --model_save_path of an earlier "
                        f"run_cr_train.py/run_qa_train.py run")
    raise FuteError(f"{flag} {load_path} holds no model (no config.json in it or in {HF_SUBDIR}/)")


def check_max_len(name: str, max_len: int, flag: str = "--max_len", reserved: int = 0,
                  model_flag: str | None = None) -> None:
    """Refuse inputs of `max_len` tokens, plus `reserved` positions (a prefix's), that the model `name` (alias, hub
    id, folder, checkpoint folder) has no positions for (hf_compat.position_limit): FuteError naming `flag`, the
    limit and the value to pass, before any data is read or model run. A model that does not load is a FuteError
    naming `model_flag`, the option that gave it."""
    source = resolve_model_name(name)
    try:
        config = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as err:
        raise _load_error(name, err, model_flag) from None
    limit = position_limit(config)
    if limit is not None and max_len + reserved > limit:
        held = f", {reserved} of them taken by the prefix" if reserved else ""
        raise FuteError(f"{flag} {max_len} is longer than {name} takes: {limit} positions (its "
                        f"max_position_embeddings){held}; pass {flag} {limit - reserved} or less")


def describe_model(name: str, record_folder: str | Path) -> ModelRef:
    """How a record in `record_folder` names the model read as `name` (alias, hub id, folder, checkpoint folder
    of run_cr_train.py, file): a local one by its absolute and relative paths and content hash, a hub id by the
    commit of the snapshot in the hub cache and that snapshot's hash (data_utils/artifacts/model_ref.py)."""
    source = resolve_model_name(name)
    if Path(source).exists():
        return local_ref(name, name, record_folder, source)
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(source, "config.json")
    except ValueError:  # not a hub id either: recorded as given
        cached = None
    if not isinstance(cached, str):  # not in the cache (a model read some other way): its id alone
        return ModelRef(given=name, hub_id=source)
    snapshot = Path(cached).parent  # the hub cache's layout: snapshots/<commit>/
    return ModelRef(given=name, hub_id=source, revision=snapshot.name, sha256=content_hash(snapshot))


def locate_model(refs: Sequence[tuple[ModelRef, Path]], override: str | None, what: str, advice: str
                 ) -> tuple[str, str | None]:
    """(what from_pretrained reads, the revision) for the one model named by `refs`, (reference, folder of the
    record holding it) pairs: `override` (a flag pointing at a copy, which must have the recorded content hash),
    else the first local candidate with that hash (model_ref.local_candidates), else the hub id at its commit
    (a reference of an older record, with the name alone, is tried as a hub id too). FuteError naming `advice`
    when `override` is not the model, or when there is neither a local copy nor a hub id."""
    recorded = {ref.sha256 for ref, _ in refs if ref.sha256}
    if override is not None:
        source = resolve_model_name(override)
        if not Path(source).exists():
            raise FuteError(f"{override} does not exist; point it at a copy of the {what}")
        if recorded and content_hash(source) not in recorded:
            raise FuteError(f"{override} is not the {what} the records name ({refs[0][0].describe()}): its content "
                            f"hash differs; point it at a copy of that model, or {advice}")
        return source, None
    hashes: dict[Path, str] = {}  # each candidate read once, however many records lead to it
    for ref, folder in refs:
        for candidate in local_candidates(ref, folder):
            source = resolve_model_name(str(candidate))
            if ref.sha256 is None:
                return source, None
            if candidate not in hashes:
                hashes[candidate] = content_hash(source)
            if hashes[candidate] == ref.sha256:
                return source, None
    for ref, _ in refs:
        if ref.hub_id or ref.path is None:
            return ref.hub_id or ref.given, ref.revision
    names = ", ".join(sorted({ref.describe() for ref, _ in refs}))
    raise FuteError(f"the {what} {names} is not found (not there, not relative to the records, or another model "
                    f"there); {advice}")


def check_checkpoint_finished(load_path: str) -> None:
    """A checkpoint folder written by `save_checkpoint` holds its record, written after the model: without it,
    the fine-tune writing it was killed while saving (a bare Hugging Face folder has neither)."""
    folder = Path(load_path)
    if (folder / HF_SUBDIR).is_dir() and not (folder / RECORD_NAME).is_file():
        raise FuteError(f"{load_path} is the checkpoint of a fine-tune that did not finish (no {RECORD_NAME}, which is "
                        f"written last); run that fine-tune's command again: it finishes it")


def fine_tuned_record(load_path: str) -> ScoreRecord | None:
    """What the checkpoint at `load_path` was fine-tuned on (data_utils/artifacts/scores.py ScoreRecord: its
    dataset, to_train_dataset and, in newer records, data), from its record; None without one.

    The record sits beside `hf_checkpoint/` in the folder that `save_checkpoint` fills,
    so it is looked for only there: a bare Hugging Face folder has none (its parent's
    record, if any, belongs to another model).
    """
    checkpoint = Path(resolve_checkpoint(load_path))
    return read_checkpoint_record(checkpoint.parent if checkpoint.name == HF_SUBDIR else checkpoint)


def _load_error(name: str, err: Exception, flag: str | None = None) -> FuteError:
    """The one line for a model that does not load; `flag`: the option that named it (its default, perhaps)."""
    given = f" ({flag})" if flag else ""
    if looks_local(name) and not Path(name).expanduser().exists():
        return FuteError(f"model folder {name}{given} does not exist; pass a Hugging Face id or an existing folder")
    first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return FuteError(f"cannot load model {name!r}{given}: {first_line}; check the id/folder (the hub needs network "
                     f"access, or a local copy)")


def load_tokenizer(name: str, flag: str | None = None):
    """A fast tokenizer with a pad token (GPT-2-like models get their eos token as pad); a model that does not
    load is a FuteError naming `flag`, the option that gave it."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolve_model_name(name))
    except (OSError, ValueError) as err:
        raise _load_error(name, err, flag) from None
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise FuteError(f"tokenizer of {name} has neither a pad nor an eos token; add a pad token to it")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_task_model(spec: DatasetSpec, model_name: str, tokenizer, load_path: str | None = None):
    """A classification/regression or QA model for `spec`, from a base model or a checkpoint.

    From a checkpoint (task transfer), the backbone is always kept; see `load_head_model`
    for the head. A QA checkpoint loaded for a CR dataset (or the reverse) keeps the
    backbone and gets a new head.
    """
    source = resolve_checkpoint(load_path) if load_path else resolve_model_name(model_name)
    return load_head_model(source, spec.task_class, spec.labels, spec.regression, tokenizer)


def load_head_model(source: str, task_class: str, labels: tuple[str, ...] = (), regression: bool = False,
                    tokenizer=None, own_head: bool = False):
    """`source` with a classification (len(labels) outputs), regression (1 output) or QA head.

    Dispatches on the task class, never on the model's name: any architecture whose
    Auto class has that head works. A head that `source` already carries is kept when
    its shape fits and re-initialised otherwise (`ignore_mismatched_sizes`), what the
    reference did for transfer, and what a base model fine-tuned on another task (an
    MNLI checkpoint given for STS-B) needs.

    Output i is always `labels[i]`: a kept head whose config names the same labels in
    another order (id2label {0: "positive", 1: "negative"}; an rte checkpoint continued on
    wnli) has its output rows put in `labels`' order (data_utils/label_order.py). Names of
    other labels are another task's head, kept as it is for transfer.

    own_head: the head must be the checkpoint's own, for these labels (the MTE reads a
    fine-tuned model's outputs as the dataset's): every weight must load, and a config
    that names other labels is a FuteError naming both lists.
    """
    order = _checkpoint_label_order(source, labels, own_head) if task_class == "cr" and not regression else None
    # The head's size is given by id2label alone: num_labels beside a checkpoint's own id2label of another
    # length (a transfer between tasks) makes transformers warn that the two disagree.
    if task_class == "cr":
        auto_class = AutoModelForSequenceClassification
        names = ("LABEL_0",) if regression else labels
        kwargs = {"problem_type": "regression" if regression else "single_label_classification"}
    else:
        auto_class = AutoModelForQuestionAnswering
        # Start and end logits: QA heads are sized by num_labels, which a CR source's config
        # sets to its own label count (1 for regression, 3 for NLI).
        names, kwargs = ("LABEL_0", "LABEL_1"), {}
    kwargs.update(id2label=dict(enumerate(names)), label2id={name: i for i, name in enumerate(names)})
    try:
        config = AutoConfig.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as err:
        raise _load_error(source, err) from None
    head = "sequence-classification" if task_class == "cr" else "question-answering"
    if type(config) not in auto_class._model_mapping:
        raise FuteError(f"{source} (model_type {config.model_type!r}) has no {head} head in transformers; "
                        f"choose a model with one (BERT, GPT-2, T5, Llama, ...)")
    try:
        model = load_pretrained(auto_class, source, new_head=not own_head, config=config,
                                ignore_mismatched_sizes=True, dtype=MODEL_DTYPE)
    except (OSError, ValueError) as err:
        raise _load_error(source, err) from None
    if order is not None:
        _reorder_outputs(model, order)
        logger.info("%s: its head's outputs put in the dataset's label order %s (the checkpoint's rows %s)",
                    source, list(labels), order)
    if tokenizer is not None and model.config.pad_token_id != tokenizer.pad_token_id:
        # Decoder classifiers read the last token that is not `config.pad_token_id`; the batches are
        # padded with the tokenizer's pad id, so the two must agree (a checkpoint may say <unk> while
        # the tokenizer, given none, pads with eos).
        if model.config.pad_token_id is not None:
            logger.info("%s: pad token id %s of the model config replaced by the tokenizer's, %s", source,
                        model.config.pad_token_id, tokenizer.pad_token_id)
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def _checkpoint_label_order(source: str, labels: tuple[str, ...], own_head: bool) -> list[int] | None:
    """The checkpoint row of each of `labels` when `source`'s config names them in another order; None when
    its head's rows are already in `labels`' order, its names are transformers' LABEL_<i> defaults, or (own_head
    False) it names another task's labels. FuteError for other labels when own_head."""
    try:
        names = list(AutoConfig.from_pretrained(source).id2label.values())
    except (OSError, ValueError) as err:
        raise _load_error(source, err) from None
    if not named(names):
        return None
    order = order_by_name(names, labels)
    if order is None and own_head:
        raise FuteError(f"{source} names its outputs {names}, not the labels {list(labels)} of the dataset it is "
                        f"read for; give the --to_train_dataset it was fine-tuned on, or a checkpoint of that dataset")
    return None if order == list(range(len(labels))) else order


def _reorder_outputs(model, order: list[int]) -> None:
    """Put the rows of the classifier's output layer (the last Linear of the head with one row per label:
    BERT's classifier, RoBERTa's and T5's out_proj, GPT-2's and Llama's score) in `order`."""
    head = head_parameter_names(model)
    outputs = [module for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)
               and f"{name}.weight" in head and module.out_features == len(order)]
    if not outputs:
        raise FuteError(f"{type(model).__name__}: no output layer of {len(order)} rows found in its head to put in "
                        f"the dataset's label order; save the checkpoint with its labels in that order")
    with torch.no_grad():
        for param in (outputs[-1].weight, outputs[-1].bias):
            if param is not None:
                param.copy_(param[order].clone())


def load_base_model(source: str):
    """The bare backbone of `source` (no head); the encoder of an encoder-decoder model."""
    try:
        model = load_pretrained(AutoModel, source, dtype=MODEL_DTYPE)
    except (OSError, ValueError) as err:
        raise _load_error(source, err) from None
    return model.get_encoder() if model.config.is_encoder_decoder else model


def save_checkpoint(model, tokenizer, folder: str) -> None:
    """Write the reference's layout: hf_checkpoint/ (save_pretrained) and torch_checkpoint.pt."""
    folder = Path(folder)
    hf_dir = folder / HF_SUBDIR
    hf_dir.mkdir(parents=True, exist_ok=True)
    # Under the model's own weight names: transformers would otherwise write back the names of the
    # checkpoint it was loaded from (`model.*` for a Llama QA model read from a causal LM), which
    # a plain LlamaForQuestionAnswering.from_pretrained does not find.
    model.save_pretrained(hf_dir, save_original_format=False)
    tokenizer.save_pretrained(hf_dir)
    tmp = folder / f".{STATE_DICT_NAME}.tmp"
    # CPU tensors: a state dict saved from a GPU run loads anywhere without map_location.
    torch.save({name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}, tmp)
    os.replace(tmp, folder / STATE_DICT_NAME)
    logger.info("saved checkpoint to %s", folder)


def model_fingerprint(name: str) -> str:
    """What identifies the model read as `name`, so that a training run resumes only on the model it started from
    (task_emb.trainer.run_identity): the content hash of its config and weights (`describe_model`: a local folder,
    a checkpoint of run_cr_train.py, or the hub cache's snapshot of a hub id), else its hub id or name."""
    ref = describe_model(name, Path.cwd())
    return ref.sha256 or ref.hub_id or name
