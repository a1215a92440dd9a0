"""Classification / regression metrics, computed locally with scikit-learn and scipy.

The reference loaded GLUE-style metrics with `evaluate.load`, which needs the hub;
these functions give the same numbers offline. Every metric takes
`(predictions, references)`, two 1-D arrays of equal length N, and returns a python float:

- `accuracy`: mean(pred == ref).
- `f1`: binary F1 of the positive class 1 (GLUE's MRPC/QQP metric),
  2TP / (2TP + FP + FN); 0.0 when TP + FP + FN = 0 (nothing to find, nothing predicted).
- `macro_f1`: unweighted mean of the per-class F1 over the classes that occur in
  predictions or references (sklearn `average="macro"`, as `evaluate`'s f1 did).
- `matthews_correlation`: (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) in the
  binary case, sklearn's multi-class generalisation otherwise; 0.0 when undefined.
- `pearsonr`, `spearmanr`: correlation of float predictions with float references.

Degenerate correlations: when either side is constant (or N < 2) the correlation is
undefined (scipy returns nan). We return 0.0 instead, and log a warning, for two reasons:
0.0 is what sklearn's Matthews correlation already returns in the same situation, and a
nan dev score would silently break early stopping (`nan > best` is always False).
"""
import logging
from typing import Callable, Sequence

import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from data_utils.errors import FuteError

logger = logging.getLogger(__name__)


def _accuracy(predictions: np.ndarray, references: np.ndarray) -> float:
    return float(accuracy_score(references, predictions))


def _binary_f1(predictions: np.ndarray, references: np.ndarray) -> float:
    labels = set(np.unique(predictions).tolist()) | set(np.unique(references).tolist())
    if not labels <= {0, 1}:
        raise FuteError(
            f"metric 'f1' is binary (labels 0/1) but got labels {sorted(labels)}; use 'macro_f1' instead"
        )
    return float(f1_score(references, predictions, pos_label=1, average="binary", zero_division=0.0))


def _macro_f1(predictions: np.ndarray, references: np.ndarray) -> float:
    return float(f1_score(references, predictions, average="macro", zero_division=0.0))


def _matthews(predictions: np.ndarray, references: np.ndarray) -> float:
    return float(matthews_corrcoef(references, predictions))


def _correlation(name: str, fn: Callable) -> Callable[[np.ndarray, np.ndarray], float]:
    """Wrap a scipy correlation so that an undefined value comes back as 0.0 (see module doc)."""

    def metric(predictions: np.ndarray, references: np.ndarray) -> float:
        x = np.asarray(predictions, dtype=np.float64)
        y = np.asarray(references, dtype=np.float64)
        # Checked before calling scipy, whose answer depends on its version: it warns
        # (ConstantInputWarning) or raises (N < 2; non-finite input before scipy 1.12) or returns nan.
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            logger.warning("%s is undefined (non-finite input): reporting 0.0", name)
            return 0.0
        if len(x) < 2 or np.all(x == x[0]) or np.all(y == y[0]):
            logger.warning("%s is undefined (constant input or fewer than 2 values): reporting 0.0", name)
            return 0.0
        return float(fn(x, y).statistic)

    return metric


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": _accuracy,
    "f1": _binary_f1,
    "macro_f1": _macro_f1,
    "matthews_correlation": _matthews,
    "pearsonr": _correlation("pearsonr", stats.pearsonr),
    "spearmanr": _correlation("spearmanr", stats.spearmanr),
}


def compute_metrics(names: Sequence[str], predictions, references) -> dict[str, float]:
    """Compute each named metric; predictions/references are array-likes of shape [N].

    Predictions are label indices for the classification metrics and floats for
    pearsonr/spearmanr (see `predictions_from_logits`).
    """
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise FuteError(f"unknown metric(s) {unknown}; known metrics: {sorted(METRICS)}")
    predictions = np.asarray(predictions)
    references = np.asarray(references)
    if predictions.ndim != 1 or predictions.shape != references.shape:
        raise FuteError(
            f"predictions {predictions.shape} and references {references.shape} must be 1-D of the same "
            "length; convert logits with predictions_from_logits first"
        )
    if len(references) == 0:
        raise FuteError("no examples to score: the evaluation split is empty")
    return {name: METRICS[name](predictions, references) for name in names}


def predictions_from_logits(logits: np.ndarray, regression: bool) -> np.ndarray:
    """Model outputs -> predictions: argmax over the last axis ([N, C] -> [N] label indices),
    or, for regression, the single output squeezed ([N, 1] or [N] -> [N] floats)."""
    logits = np.asarray(logits)
    if regression:
        if logits.ndim == 2 and logits.shape[1] == 1:
            return logits[:, 0]
        if logits.ndim == 1:
            return logits
        raise FuteError(f"regression outputs must have shape [N, 1] or [N], got {logits.shape}")
    if logits.ndim < 2:
        raise FuteError(f"classification logits must have shape [N, num_labels], got {logits.shape}")
    return np.argmax(logits, axis=-1)
