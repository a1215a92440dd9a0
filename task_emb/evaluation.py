"""Dev-set evaluation of task models: logits -> predictions -> the dataset's metrics.

Score dictionaries keep the reference's layout: every metric by name, "all" (CR:
the mean of the metrics), "loss" (mean dev loss) and "best" (the dataset's main
metric, the number that early stopping and the transfer tables use). Every value
is a finite number: a model whose outputs or loss are NaN or inf is an error, never
a score (a diverged run would otherwise look like a poor one).
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch

from configs.datasets import DatasetSpec
from configs.hparams import QA_POSTPROCESS
from data_utils.errors import FuteError
from data_utils.metrics import compute_metrics, predictions_from_logits
from data_utils.progress import progress
from data_utils.qa_postprocess import postprocess_qa_predictions
from data_utils.squad_v2 import squad_v2_scores

# Padding value for logits of positions beyond a feature's length (never chosen).
_NEG = -1e9


@torch.no_grad()
def collect_outputs(model: torch.nn.Module, batches: Iterable[dict], device: torch.device,
                    keys: tuple[str, ...], desc: str = "dev") -> tuple[dict[str, list[np.ndarray]], float]:
    """Run `model` over batches; return each output in `keys` as a list of per-batch arrays, and the mean loss
    (NaN when the batches hold no labels). `desc` names the pass in progress lines.

    An output that is NaN or inf is a FuteError naming the input (its position in the batches' order):
    the model's weights are not finite (a diverged training run) or the input overflows it.
    """
    model.eval()
    outputs: dict[str, list[np.ndarray]] = {key: [] for key in keys}
    losses, seen = [], 0
    for batch in progress(batches, desc=desc, unit="batches"):
        batch = {k: v.to(device) for k, v in batch.items()}
        result = model(**batch)
        if result.loss is not None:
            losses.append(result.loss.item())
        for key in keys:
            values = result[key].float().cpu().numpy()
            bad = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
            if bad.size:
                raise FuteError(f"the model gives non-finite {key} for input {seen + bad[0]} (counted from 0; "
                                f"{bad.size} of the {len(values)} in its batch): its weights are not finite, as after "
                                f"a diverged training run (train it again with a lower learning rate)")
            outputs[key].append(values)
        seen += len(batch["input_ids"])
    return outputs, float(np.mean(losses)) if losses else float("nan")


def cr_scores(spec: DatasetSpec, logits: np.ndarray, labels: np.ndarray, loss: float) -> dict[str, float]:
    predictions = predictions_from_logits(logits, regression=spec.regression)
    scores = compute_metrics(spec.metrics, predictions, labels)
    scores["all"] = float(np.mean(list(scores.values())))
    return _finish(scores, spec.main_metric, loss)


def evaluate_cr(model, batches, spec: DatasetSpec, device) -> dict[str, float]:
    outputs, loss = collect_outputs(model, batches, device, ("logits",))
    logits = np.concatenate(outputs["logits"])
    labels = np.concatenate([b["labels"].numpy() for b in batches])
    return cr_scores(spec, logits, labels, loss)


def evaluate_qa(model, batches, examples: list[dict], meta: dict, device) -> dict[str, float]:
    """SQuAD-v2 exact match and F1 (fractions in [0, 1]) after n-best post-processing."""
    outputs, loss = collect_outputs(model, batches, device, ("start_logits", "end_logits"))
    start_logits, end_logits = _pad_rows(outputs["start_logits"]), _pad_rows(outputs["end_logits"])
    width = start_logits.shape[1]
    offsets = [list(o) + [None] * (width - len(o)) for o in meta["offsets"]]
    texts, no_answer = postprocess_qa_predictions(
        [e["id"] for e in examples], [e["context"] for e in examples], meta["example_ids"], offsets,
        start_logits, end_logits, n_best=QA_POSTPROCESS["n_best"],
        max_answer_length=QA_POSTPROCESS["max_answer_length"])
    references = {e["id"]: e["answers"]["text"] for e in examples}
    scores = squad_v2_scores(texts, references, no_answer)
    return _finish(scores, "f1", loss)


def _pad_rows(batches: list[np.ndarray]) -> np.ndarray:
    """Batches of [b, len_i] logits (dynamic padding) -> one [n, max len] array."""
    width = max(b.shape[1] for b in batches)
    return np.concatenate([np.pad(b, ((0, 0), (0, width - b.shape[1])), constant_values=_NEG) for b in batches])


def _finish(scores: dict[str, float], main_metric: str, loss: float) -> dict[str, float]:
    scores = {**scores, "loss": loss, "best": scores[main_metric]}
    broken = {name: value for name, value in scores.items() if not math.isfinite(value)}
    if broken:
        raise FuteError(f"dev scores {broken} are not finite; the model or the dev data is broken, no score is written")
    return scores
