"""Prompt-selection baselines: one score per prompt, higher = better (docs/method.md section 6).

Every score function is pure and works on plain arrays; reading the inference files is
llm_inference/selection_files.py's job, and llm_inference/selection_baselines.py registers
each baseline with the inputs it reads. Shapes, for P prompts, N examples and L labels:

- `probs`: float [P, N, L], per-example label distributions (rows sum to 1), in
  ONE label order per task: SA [negative, positive], NLI [entailment, neutral,
  contradiction].
- `preds`: int [P, N], the inference files' predictions (the label of the best
  verbalizer). On an exact tie of two labels this can differ from probs.argmax(),
  so, as in the original, GlobalE and the ZPS accuracy count `preds`, while MI,
  LocalE, MDL and the ZPS confidence and ensembles read `probs`.
- `ppl`: float [P] or [P, N], prompt perplexities.

H(p) = -sum_l p_l log p_l, natural log, with 0 log 0 = 0.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.special import entr
from sklearn.cluster import KMeans

from data_utils.artifacts.selection_scores import SelfSelectSource
from data_utils.errors import FuteError
from data_utils.io import read_json

logger = logging.getLogger(__name__)

ZPS_ENSEMBLES = ("log_prob_mean", "prob_mean", "majority_vote")

DEFAULT_SELF_SELECT_ORDERS = Path(__file__).resolve().parent.parent / "configs" / "self_select_orders.json"

# MDL takes -log p; an exact zero probability (softmax underflow) would make the
# score infinite and unwritable as JSON, so it is read as this floor instead.
_MDL_PROB_FLOOR = 1e-12
# The original asserted 0.99 < row sum < 1.01; a little tighter catches logits passed by mistake.
_ROW_SUM_TOLERANCE = 1e-3
# 2-means settings of the original (sklearn KMeans), fixed so the filtering is deterministic.
_KMEANS_N_INIT = 10
_KMEANS_RANDOM_STATE = 0


def _check_probs(probs: np.ndarray) -> np.ndarray:
    """Return `probs` as float64 [P, N, L] or raise FuteError saying what is wrong."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 3:
        raise FuteError(
            f"probs must be 3-D [prompts, examples, labels], got shape {probs.shape}; stack one [N, L] array per prompt"
        )
    num_prompts, num_examples, num_labels = probs.shape
    if num_prompts < 2:
        raise FuteError(
            f"prompt selection needs at least 2 prompts, got {num_prompts}; pass the inference files of every prompt"
        )
    if num_examples < 1 or num_labels < 2:
        raise FuteError(f"probs needs at least 1 example and 2 labels, got shape {probs.shape}")
    if not np.all(np.isfinite(probs)):
        raise FuteError("probs contains NaN or infinite values; check the inference files")
    if np.any(probs < 0):
        raise FuteError("probs contains negative values; pass probabilities (softmax over labels), not raw scores")
    row_sums = probs.sum(axis=-1)
    bad = np.argwhere(np.abs(row_sums - 1.0) > _ROW_SUM_TOLERANCE)
    if len(bad):
        prompt, example = bad[0]
        raise FuteError(
            f"probs rows must sum to 1, prompt {prompt} example {example} sums to {row_sums[prompt, example]:.4f}; "
            "pass probabilities (softmax over labels), not raw scores"
        )
    return probs


def _check_preds(preds: np.ndarray, num_prompts: int, num_examples: int, num_labels: int) -> np.ndarray:
    """Return `preds` as int [P, N] or raise FuteError saying what is wrong."""
    preds = np.asarray(preds)
    if preds.shape != (num_prompts, num_examples):
        raise FuteError(f"preds must be [prompts, examples] = [{num_prompts}, {num_examples}], got shape "
                        f"{preds.shape}; pass the predictions of the same files as the probabilities")
    if not np.issubdtype(preds.dtype, np.integer) or preds.min() < 0 or preds.max() >= num_labels:
        raise FuteError(f"preds must be label indices 0-{num_labels - 1}; check the normalized_pred field of the "
                        f"inference files")
    return preds


def _entropy(p: np.ndarray) -> np.ndarray:
    """H over the last axis, natural log, 0 log 0 = 0."""
    return entr(p).sum(axis=-1)


def mutual_information(probs: np.ndarray) -> np.ndarray:
    """MI between input and predicted label, per prompt: [P, N, L] -> [P].

    score = H(mean_x p(.|x)) - mean_x H(p(.|x)). High when the prompt is confident
    on each example but spreads its predictions over the labels.
    """
    probs = _check_probs(probs)
    return _entropy(probs.mean(axis=1)) - _entropy(probs).mean(axis=1)


def global_entropy(preds: np.ndarray, num_labels: int) -> np.ndarray:
    """GlobalE (Lu et al. 2022), per prompt: int [P, N] predictions -> [P].

    score = H(c / N), c_l = number of examples predicted as label l (labels with no
    prediction count as 0). High when the predictions are not collapsed onto one label.
    """
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[0] < 2:
        raise FuteError(f"preds must be [prompts, examples] with at least 2 prompts, got shape {preds.shape}")
    preds = _check_preds(preds, preds.shape[0], preds.shape[1], num_labels)
    counts = np.stack([np.bincount(row, minlength=num_labels) for row in preds])
    return _entropy(counts / preds.shape[1])


def local_entropy(probs: np.ndarray) -> np.ndarray:
    """LocalE (Lu et al. 2022), per prompt: [P, N, L] -> [P].

    score = mean_x H(p(.|x)). Sign: the original returns this mean entropy as it is,
    so a prompt with MORE uncertain per-example predictions ranks higher (the
    direction Lu et al. use: a prompt overconfident on every probe is suspect).
    We keep that sign: higher score = higher mean entropy = better.
    """
    probs = _check_probs(probs)
    return _entropy(probs).mean(axis=1)


def mdl(probs: np.ndarray) -> np.ndarray:
    """MDL as the reference computes it, per prompt: [P, N, L] -> [P].

    score = mean_x (1/L) sum_l -log p_l(x). This is the cross-entropy from the
    uniform label distribution, so it grows with the prompt's confidence (a
    uniform p gives log L, the minimum). Sign: the original returns this value as
    it is, with higher = better, i.e. it prefers confident prompts, in the spirit
    of MDL's preference for short code lengths; we keep that sign. An exact zero
    probability is read as 1e-12 so the score stays finite.
    """
    probs = _check_probs(probs)
    return (-np.log(np.maximum(probs, _MDL_PROB_FLOOR))).mean(axis=-1).mean(axis=1)


def zps_confidence(probs: np.ndarray) -> np.ndarray:
    """Mean confidence per prompt: [P, N, L] -> [P], mean_x (top1(p) - top2(p))."""
    probs = _check_probs(probs)
    top2 = np.sort(probs, axis=-1)[..., -2:]
    return (top2[..., 1] - top2[..., 0]).mean(axis=1)


def zps_filter_prompts(confidence: np.ndarray) -> np.ndarray:
    """Indices of the prompts ZPS ensembles: [P] confidences -> sorted indices.

    1-D 2-means (sklearn KMeans, n_init=10, random_state=0 as in the original) over
    the confidences; the cluster with the higher centre is kept. When fewer than
    two distinct confidences exist there is nothing to split, so every prompt is kept.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    if confidence.ndim != 1 or len(confidence) < 2:
        raise FuteError(f"confidence must be 1-D with at least 2 prompts, got shape {confidence.shape}")
    if len(np.unique(confidence)) < 2:
        logger.info("ZPS: all %d prompts have the same confidence; keeping all of them", len(confidence))
        return np.arange(len(confidence))
    with warnings.catch_warnings():
        # Two distinct values among many duplicates are still two clusters; sklearn's
        # "fewer distinct points than clusters" warning cannot apply here.
        warnings.simplefilter("ignore")
        kmeans = KMeans(n_clusters=2, n_init=_KMEANS_N_INIT, random_state=_KMEANS_RANDOM_STATE)
        labels = kmeans.fit_predict(confidence.reshape(-1, 1))
    best_cluster = int(np.argmax(kmeans.cluster_centers_[:, 0]))
    return np.flatnonzero(labels == best_cluster)


def zps_pseudo_labels(probs: np.ndarray, ensemble: str) -> np.ndarray:
    """Ensemble pseudo-labels from the given prompts: [K, N, L] -> int [N].

    - "log_prob_mean": argmax_l mean_k log p_kl (a zero probability is -inf: it vetoes the label)
    - "prob_mean":     argmax_l mean_k p_kl
    - "majority_vote": argmax_l #{k : argmax p_k = l}
    Ties, in the ensemble as in each prompt's own argmax, go to the lower label index.
    K = 1 is allowed here (one confident prompt is its own ensemble).
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 3:
        raise FuteError(f"probs must be 3-D [prompts, examples, labels], got shape {probs.shape}")
    if ensemble == "log_prob_mean":
        with np.errstate(divide="ignore"):
            combined = np.log(probs).mean(axis=0)
    elif ensemble == "prob_mean":
        combined = probs.mean(axis=0)
    elif ensemble == "majority_vote":
        num_labels = probs.shape[-1]
        votes = probs.argmax(axis=-1)  # [K, N]
        combined = np.stack([np.bincount(col, minlength=num_labels) for col in votes.T])
    else:
        raise FuteError(f"unknown ZPS ensemble {ensemble!r}; choose one of {', '.join(ZPS_ENSEMBLES)}")
    return combined.argmax(axis=-1)


def zps_scores(probs: np.ndarray, preds: np.ndarray, ensemble: str) -> np.ndarray:
    """Zero-label prompt selection (Liao et al. 2022), per prompt: [P, N, L] and int [P, N] -> [P].

    1. confidence of each prompt from `probs` (`zps_confidence`); 2. keep the
    high-confidence cluster (`zps_filter_prompts`); 3. pseudo-labels from the kept
    prompts' `probs` (`zps_pseudo_labels` with `ensemble`); 4. score = accuracy of
    each prompt's `preds` against the pseudo-labels, for every prompt, kept or not.
    Predictions and probabilities share one label order (the original compared
    them in two different orders for sentiment, which inverted its scores).
    """
    if ensemble not in ZPS_ENSEMBLES:
        raise FuteError(f"unknown ZPS ensemble {ensemble!r}; choose one of {', '.join(ZPS_ENSEMBLES)}")
    probs = _check_probs(probs)
    preds = _check_preds(preds, *probs.shape)
    kept = zps_filter_prompts(zps_confidence(probs))
    pseudo = zps_pseudo_labels(probs[kept], ensemble)
    return (preds == pseudo[None, :]).mean(axis=1)


def spell(ppl: np.ndarray) -> np.ndarray:
    """SPELL (Gonen et al. 2022): [P] or [P, N] perplexities -> [P], score = -mean_x ppl.

    A [P, N] input is averaged over examples first; lower perplexity = higher score.
    """
    ppl = np.asarray(ppl, dtype=np.float64)
    if ppl.ndim not in (1, 2) or ppl.shape[0] < 2 or ppl.size == 0:
        raise FuteError(f"ppl must be [prompts] or [prompts, examples] with at least 2 prompts, got shape {ppl.shape}")
    if not np.all(np.isfinite(ppl)) or np.any(ppl <= 0):
        raise FuteError("ppl must hold finite positive perplexities; check the prompt_ppl field of the inference files")
    return -(ppl.mean(axis=1) if ppl.ndim == 2 else ppl)


def self_select_scores(order: Sequence[int], num_prompts: int) -> np.ndarray:
    """Scores from a best-first order of prompt numbers: -> float [num_prompts].

    The prompt at position r (0 = best) of the order scores num_prompts - r; prompts
    missing from the order score 0, below every ranked prompt. A prompt number
    >= num_prompts is an error (the order file does not fit the prompts).
    (The original returned the order itself as the scores, i.e. the prompt numbers.)
    """
    if num_prompts < 2:
        raise FuteError(f"num_prompts must be at least 2, got {num_prompts}")
    order = list(order)
    if any(isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0 for p in order):
        raise FuteError(f"a Self-Select order must hold non-negative prompt numbers, got {order}")
    if len(set(order)) != len(order):
        raise FuteError(f"a Self-Select order must list each prompt once, got {order}")
    beyond = [p for p in order if p >= num_prompts]
    if beyond:
        raise FuteError(f"the Self-Select order {order} names prompt(s) {beyond}, beyond the {num_prompts} scored "
                        f"prompts 0-{num_prompts - 1}; fix the order file")
    scores = np.zeros(num_prompts)
    for rank, prompt in enumerate(order):
        scores[prompt] = num_prompts - rank
    return scores


def load_self_select_order(model: str, genre: str, dataset: str, path: str | None = None) -> list[int]:
    """The best-first prompt order for (model, task) from an order file.

    path: a JSON file {model: {task key: [prompt numbers]}} (default: the paper's
    orders in configs/self_select_orders.json). The dataset key is looked up first,
    then the genre key ("sa" / "nli"), so a file may give one order per dataset.
    """
    path = Path(path) if path is not None else DEFAULT_SELF_SELECT_ORDERS
    table = read_json(path)
    if not isinstance(table, dict):
        raise FuteError(f"{path}: expected a JSON object {{model: {{task: [prompt numbers]}}}}")
    models = sorted(k for k in table if not k.startswith("_"))
    if model not in models:
        raise FuteError(
            f"{path}: no Self-Select order for model {model!r}; known models: {', '.join(models)}; "
            "use one of them or pass an order file of the same layout that has it"
        )
    tasks = table[model]
    for key in (dataset, genre):
        if isinstance(tasks, dict) and key in tasks:
            order = tasks[key]
            if not isinstance(order, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in order):
                raise FuteError(f"{path}: {model}/{key} must be a list of prompt numbers, got {order!r}")
            return order
    known = sorted(k for k in tasks if not k.startswith("_")) if isinstance(tasks, dict) else []
    raise FuteError(
        f"{path}: no Self-Select order for model {model!r} and dataset {dataset!r} or genre {genre!r}; "
        f"known keys for {model}: {', '.join(known)}; add one to the order file"
    )


def find_self_select_order(model: str, genre: str, dataset: str, path: str | None = None) -> SelfSelectSource:
    """Self-Select's order for (model, task) and the file it came from (`load_self_select_order`).

    With the paper's orders (path None), a model they do not cover has none: the source then says why,
    and the baseline is skipped. A file passed by the user must have an order for the model (FuteError).
    """
    if path is None:
        known = [key for key in read_json(DEFAULT_SELF_SELECT_ORDERS) if not key.startswith("_")]
        if model not in known:
            return SelfSelectSource(model=model, reason=(
                f"no Self-Select order for model {model!r} (the paper's orders cover {', '.join(known)}); pass "
                f"--self_select_order_file with one, or --self_select_model to use one of them"))
    order = load_self_select_order(model, genre, dataset, path)
    return SelfSelectSource(model=model, order_file=str(path or DEFAULT_SELF_SELECT_ORDERS), order=order)
