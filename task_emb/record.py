"""The record of one task embedding, assembled here and nowhere else, and written with it.

data_utils/artifacts/embeddings.py writes `<name>.npy` and `<name>.record.json` and reads them back.
The record's "embedding" entry is EmbeddingInfo (what the embedding describes). Its "config" holds,
in this order:
- the run's flags as parsed, "device", and "hyper_parameters" as resolved (task_emb.pipeline);
- what the training set was made of, field by field: a DatasetSource, a ModelSource or an LlmSource
  (task_emb/surrogate.py);
- for a family that trains, what `learn` reported (task_emb.families.LearnReport): "epochs_run",
  "best_epoch", "best_dev", and "diagnostics". These are the optimiser steps, the final training loss,
  the surrogate's own result, the family's own measures, and whether the embedding is under-trained
  ("undertrained", "undertrained_reasons": task_emb/undertraining.py).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from configs.methods import EmbeddingMethod
from data_utils.artifacts.embeddings import EmbeddingInfo, write_embedding
from data_utils.io import run_record
from task_emb.families import LearnReport
from task_emb.models import describe_model
from task_emb.surrogate import ModelSource, Source, TrainingSet


def record_config(flags: Mapping[str, Any], device, hp: Mapping[str, Any], source: Source | None,
                  report: LearnReport, undertrained: list[str] | None) -> dict[str, Any]:
    """The record's "config" (module docstring); `undertrained`: task_emb.undertraining.check's reasons (None: the
    family trains nothing)."""
    config = {**flags, "device": str(device), "hyper_parameters": dict(hp), **_source_entries(source)}
    diagnostics = dict(report.diagnostics)
    if report.fit is not None:
        fit = report.fit
        config.update(epochs_run=fit.epochs_run, best_epoch=fit.best_epoch, best_dev=fit.best_dev)
        diagnostics = {"optimizer_steps": fit.optimizer_steps, "final_train_loss": fit.final_train_loss, **fit.result,
                       **diagnostics, "undertrained": bool(undertrained), "undertrained_reasons": undertrained or []}
    if diagnostics:
        config["diagnostics"] = diagnostics
    return config


def _source_entries(source: Source | None) -> dict[str, Any]:
    if source is None:
        return {}
    entries = asdict(source)
    if isinstance(source, ModelSource) and source.answered_fraction is None:
        del entries["answered_fraction"]  # a QA model's measure; a CR model's record has none
    return entries


def save(save_path: Path, vector: np.ndarray, training: TrainingSet, method: EmbeddingMethod, kind: str,
         flags: Mapping[str, Any], config: dict[str, Any], argv: Sequence[str] | None, script: str) -> EmbeddingInfo:
    """Write `vector` ([dim], in --save_dtype) with its record: `config` (`record_config`) and the EmbeddingInfo of
    `method` and `kind` ("DTE" or "MTE") of the training set, read from the run's `flags` (run_task_emb.py's: what
    they name the model, the surrogate and the seed); `script` and `argv`: the command (data_utils.io.run_record)."""
    llm, is_model = flags["llm_mode"], flags["input_type"] == "model"
    named = flags["lm_model_name"] if is_model and flags["lm_model_name"] != "none" else None
    info = EmbeddingInfo(method=method.id, family=method.family, fute=method.fute, kind=kind,
                         dataset=training.dataset, genre=training.genre,
                         model=training.llm if llm else named, llm=llm, prompt=training.prompt,
                         surrogate=flags["task_emb_model_lm_name"], seed=flags["seed"], dim=int(vector.shape[0]),
                         dtype=flags["save_dtype"],
                         surrogate_ref=describe_model(flags["task_emb_model_lm_name"], save_path.parent),
                         model_ref=describe_model(flags["load_path"], save_path.parent) if is_model and not llm
                         else None)
    write_embedding(save_path, vector, info, run_record(config, argv, script))
    return info
