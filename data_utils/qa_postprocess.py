"""Extractive-QA post-processing: start/end logits of features -> one answer text per example.

A long example is split into several features (overlapping windows of the context); each
feature has start/end logits over its tokens and, per token, the (start, end) character
offsets into the example's context, or None for a token outside the context (question,
special tokens, padding).
"""
import collections
from typing import Sequence

import numpy as np

from data_utils.errors import FuteError

Offsets = Sequence[tuple[int, int] | None]


def _top_indices(logits: np.ndarray, n_best: int) -> list[int]:
    """Indices of the n_best largest logits, largest first (ties: lower index first)."""
    return np.argsort(-logits, kind="stable")[:n_best].tolist()


def _best_span(
    context: str,
    offsets: Offsets,
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    n_best: int,
    max_answer_length: int,
) -> tuple[float, str] | None:
    """(score, text) of the best valid span of one feature, or None if it has none."""
    best = None
    for start in _top_indices(start_logits, n_best):
        for end in _top_indices(end_logits, n_best):
            # Offsets may be shorter than the padded logits: those positions are padding.
            if start >= len(offsets) or end >= len(offsets) or offsets[start] is None or offsets[end] is None:
                continue
            if end < start or end - start + 1 > max_answer_length:
                continue
            score = float(start_logits[start] + end_logits[end])
            if best is None or score > best[0]:
                best = (score, context[offsets[start][0] : offsets[end][1]])
    return best


def postprocess_qa_predictions(
    example_ids: Sequence[str],
    contexts: Sequence[str],
    feature_example_ids: Sequence[str],
    feature_offsets: Sequence[Offsets],
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    n_best: int = 20,
    max_answer_length: int = 30,
    null_score_diff_threshold: float | None = None,
) -> tuple[dict[str, str], dict[str, float]]:
    """Pick the answer of each example from its features' logits.

    start_logits, end_logits: [num_features, seq_len]; feature f belongs to example
    feature_example_ids[f] and has per-token offsets feature_offsets[f] (None outside the context).
    Features of ids not in example_ids are ignored (FuteError if no feature matches any example).

    Candidates, over all features of an example: the spans (s, e) with s among the n_best
    largest start logits and e among the n_best largest end logits of that feature, keeping
    only those with both offsets not None, e >= s and e - s + 1 <= max_answer_length.
    Score(s, e) = start_logits[f, s] + end_logits[f, e]; the best span's text is
    context[offsets[s][0] : offsets[e][1]].

    null_score_diff_threshold=None (the reference's behaviour): the answer is the best span;
    if there is no valid candidate the answer is "".
    null_score_diff_threshold=t (Hugging Face run_qa, SQuAD v2 style): the null score is
    min over the example's features of start_logits[f, 0] + end_logits[f, 0] (position 0 is
    the [CLS]-like token); the answer is "" when null_score - best_span_score > t (or when
    there is no valid candidate), else the best span.

    Returns (id -> answer text, id -> no-answer probability), the probability being 1.0 when
    the null answer was chosen and 0.0 when a span was (a hard decision, as the reference
    passed it on to the SQuAD v2 scorer).
    """
    if len(example_ids) != len(contexts):
        raise FuteError(f"{len(example_ids)} example ids but {len(contexts)} contexts: pass one context per example")
    start_logits, end_logits = np.asarray(start_logits), np.asarray(end_logits)
    num_features = len(feature_example_ids)
    if (
        start_logits.ndim != 2
        or start_logits.shape != end_logits.shape
        or start_logits.shape[0] != num_features
        or len(feature_offsets) != num_features
    ):
        raise FuteError(
            f"start logits {start_logits.shape}, end logits {end_logits.shape}, {num_features} feature ids and "
            f"{len(feature_offsets)} offset lists must describe the same features: shapes [num_features, seq_len]"
        )
    if n_best < 1 or max_answer_length < 1:
        raise FuteError(f"n_best ({n_best}) and max_answer_length ({max_answer_length}) must both be >= 1")

    features_of = collections.defaultdict(list)
    for f, example_id in enumerate(feature_example_ids):
        features_of[example_id].append(f)
    if num_features and not features_of.keys() & set(example_ids):
        # Usually ids of different types (int vs str): every answer would silently be "".
        raise FuteError("no feature id matches an example id: feature_example_ids must hold the examples' ids")

    answers, no_answer_probability = {}, {}
    for example_id, context in zip(example_ids, contexts):
        best = None
        for f in features_of[example_id]:
            candidate = _best_span(context, feature_offsets[f], start_logits[f], end_logits[f], n_best, max_answer_length)
            # Strict > keeps the earliest feature on a tie, as the reference's max() did.
            if candidate is not None and (best is None or candidate[0] > best[0]):
                best = candidate
        is_null = best is None
        if not is_null and null_score_diff_threshold is not None:
            null_score = min(float(start_logits[f, 0] + end_logits[f, 0]) for f in features_of[example_id])
            is_null = null_score - best[0] > null_score_diff_threshold
        answers[example_id] = "" if is_null else best[1]
        no_answer_probability[example_id] = 1.0 if is_null else 0.0
    return answers, no_answer_probability
