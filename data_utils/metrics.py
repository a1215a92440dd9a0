"""Classification / regression metrics, computed locally with scikit-learn and scipy, and NDCG.

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
0.0 is what sklearn's Matthews correlation already returns in the same situation (a
constant prediction carries no information about the reference), and a nan dev score
would silently break early stopping (`nan > best` is always False).

Non-finite input (a NaN or inf prediction or reference) is an error, not 0.0: it comes from
a model whose weights went non-finite, or from broken data, and a 0.0 would pass for a poor
but working model.

NDCG (`ndcg`) scores a ranking against graded relevance rel_i of the items in predicted order:
    DCG@k = sum_{i=1..k} gain(c * rel_i) / log2(i + 1),   NDCG@k = DCG@k / DCG@k of the ideal order,
gain(x) = x ("linear", as sklearn.metrics.ndcg_score) or 2^x - 1 ("exponential"), c a relevance
scale (100 reads scores in [0, 1] as percent points, which only changes the exponential gain).
Both tables of the paper use it: sources ranked for a target, prompts ranked for an LLM.

scikit-learn and scipy are imported by the metrics that call them, so that a parser offering
`GAINS` (run_eval.py) is built without loading them.
"""
import logging
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from data_utils.errors import FuteError

logger = logging.getLogger(__name__)


def _accuracy(predictions: np.ndarray, references: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(references, predictions))


def _binary_f1(predictions: np.ndarray, references: np.ndarray) -> float:
    labels = set(np.unique(predictions).tolist()) | set(np.unique(references).tolist())
    if not labels <= {0, 1}:
        raise FuteError(
            f"metric 'f1' is binary (labels 0/1) but got labels {sorted(labels)}; use 'macro_f1' instead"
        )
    from sklearn.metrics import f1_score

    return float(f1_score(references, predictions, pos_label=1, average="binary", zero_division=0.0))


def _macro_f1(predictions: np.ndarray, references: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(references, predictions, average="macro", zero_division=0.0))


def _matthews(predictions: np.ndarray, references: np.ndarray) -> float:
    from sklearn.metrics import matthews_corrcoef

    return float(matthews_corrcoef(references, predictions))


def _correlation(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """scipy.stats' correlation `name`, an undefined value coming back as 0.0 (see module doc)."""

    def metric(predictions: np.ndarray, references: np.ndarray) -> float:
        x = np.asarray(predictions, dtype=np.float64)
        y = np.asarray(references, dtype=np.float64)
        # Checked before calling scipy, whose answer depends on its version: it warns
        # (ConstantInputWarning) or raises (N < 2) or returns nan.
        if len(x) < 2 or np.all(x == x[0]) or np.all(y == y[0]):
            logger.warning("%s is undefined (constant input or fewer than 2 values): reporting 0.0", name)
            return 0.0
        from scipy import stats

        return float(getattr(stats, name)(x, y).statistic)

    return metric


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": _accuracy,
    "f1": _binary_f1,
    "macro_f1": _macro_f1,
    "matthews_correlation": _matthews,
    "pearsonr": _correlation("pearsonr"),
    "spearmanr": _correlation("spearmanr"),
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
    for what, values in (("predictions", predictions), ("references", references)):
        if values.dtype.kind in "fc" and not np.isfinite(values).all():
            raise FuteError(f"{np.count_nonzero(~np.isfinite(values))} of {len(values)} {what} are NaN or inf "
                            f"(first at position {int(np.flatnonzero(~np.isfinite(values))[0])}); a model whose "
                            f"weights went non-finite, or broken data, cannot be scored")
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


# ---------------------------------------------------------------- ranking

GAINS = ("linear", "exponential")


def gain(relevance: np.ndarray, kind: str) -> np.ndarray:
    """linear: rel; exponential: 2^rel - 1."""
    if kind == "linear":
        return relevance
    if kind == "exponential":
        return np.power(2.0, relevance) - 1.0
    raise FuteError(f"unknown NDCG gain {kind!r}; use one of {', '.join(GAINS)}")


def dcg(relevance_in_order: Sequence[float], gain_kind: str = "linear", k: int | None = None) -> float:
    """DCG@k = sum_{i=1..k} gain(rel_i) / log2(i + 1) over the given order (all items when k is None)."""
    rel = np.asarray(relevance_in_order, dtype=np.float64)[:k]
    discounts = np.log2(np.arange(2, rel.shape[0] + 2))
    with np.errstate(over="ignore"):
        gains = gain(rel, gain_kind)
    if not np.all(np.isfinite(gains)):
        raise FuteError(f"the {gain_kind} NDCG gain of relevance up to {rel.max():g} overflows; use a smaller "
                        f"--ndcg_scale or --ndcg_gain linear")
    return float(np.sum(gains / discounts))


def ndcg(relevance_in_order: Sequence[float], gain_kind: str = "linear", k: int | None = None,
         scale: float = 1.0) -> float:
    """DCG@k of the given order / DCG@k of the same relevances sorted best first, relevance multiplied by `scale`.

    Relevance must be non-negative (a negative gain makes the ratio meaningless).
    All-zero relevance gives 0, as sklearn.metrics.ndcg_score does.
    """
    if k is not None and k < 1:
        raise FuteError(f"the NDCG cut-off k must be at least 1, got {k}")
    if not scale > 0:
        raise FuteError(f"the NDCG relevance scale must be positive, got {scale}")
    if any(r < 0 for r in relevance_in_order):
        raise FuteError(f"NDCG needs non-negative relevance, got {min(relevance_in_order)}")
    scaled = [scale * r for r in relevance_in_order]
    ideal = dcg(sorted(scaled, reverse=True), gain_kind, k)
    return 0.0 if ideal == 0.0 else dcg(scaled, gain_kind, k) / ideal


@dataclass(frozen=True)
class NdcgSettings:
    """The NDCG a table reports: gain ("linear" | "exponential"), cut-off k (None = all), relevance scale."""

    gain: str = "linear"
    k: int | None = None
    scale: float = 1.0

    def __call__(self, relevance_in_order: Sequence[float]) -> float:
        return ndcg(relevance_in_order, self.gain, self.k, self.scale)

    def to_json(self) -> dict:
        return {"ndcg_gain": self.gain, "ndcg_k": self.k, "ndcg_scale": self.scale}

    def describe(self, everything: str) -> str:
        """E.g. "NDCG (linear gain, all ranks)" or "NDCG (exponential gain, relevance x 100, top 3)"."""
        cutoff = everything if self.k is None else f"top {self.k}"
        scale = "" if self.scale == 1 else f", relevance x {self.scale:g}"
        return f"NDCG ({self.gain} gain{scale}, {cutoff})"
