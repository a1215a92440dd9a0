"""The official SQuAD v2.0 evaluation, re-written to run offline and report fractions.

Same rules as the official script (and `evaluate`'s squad_v2 metric, which the reference
used and then divided by 100):
- answers are compared after `normalize_answer` (lower case, no punctuation, no articles
  a/an/the, single spaces);
- a question's exact/F1 is the max over its gold answers; gold answers that normalise to
  "" are dropped, and a question with no (remaining) gold answer is scored against "";
- a question is "unanswerable" (NoAns) when its reference list is empty;
- a prediction whose no-answer probability is > `no_answer_threshold` is replaced by the
  null answer: it scores 1 on an unanswerable question and 0 otherwise;
- `best_*` sweep the threshold over the no-answer probabilities (`_best_threshold`).
"""
import collections
import re
import string

from data_utils.errors import FuteError

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lower-case, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCTUATION)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _tokens(s: str) -> list[str]:
    return normalize_answer(s).split()


def compute_exact(gold: str, pred: str) -> int:
    """1 if the two answers are equal after normalisation, else 0."""
    return int(normalize_answer(gold) == normalize_answer(pred))


def compute_f1(gold: str, pred: str) -> float:
    """Token-overlap F1 of the normalised answers.

    common = |multiset(gold tokens) & multiset(pred tokens)|,
    precision = common / |pred|, recall = common / |gold|, F1 = 2PR / (P + R).
    If either side has no tokens, F1 = 1.0 when both are empty, else 0.0.
    """
    gold_tokens, pred_tokens = _tokens(gold), _tokens(pred)
    if not gold_tokens or not pred_tokens:
        return float(gold_tokens == pred_tokens)
    common = sum((collections.Counter(gold_tokens) & collections.Counter(pred_tokens)).values())
    if common == 0:
        return 0.0
    precision = common / len(pred_tokens)
    recall = common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _best_threshold(
    predictions: dict[str, str],
    raw_scores: dict[str, float],
    no_answer_probability: dict[str, float],
    has_answer: dict[str, bool],
) -> tuple[float, float]:
    """The official `find_best_thresh`: the best total score over no-answer thresholds.

    Start with every question predicted null (score = number of unanswerable questions),
    then un-null the questions one by one in increasing no-answer probability: an
    answerable one gains its raw score, an unanswerable one loses 1 if its prediction is
    non-empty. Returns (best score as a fraction of all questions, the probability at
    which it was reached; 0.0 if predicting null everywhere is best).
    """
    current = best = sum(1 for qid in raw_scores if not has_answer[qid])
    best_thresh = 0.0
    for qid in sorted(raw_scores, key=lambda k: no_answer_probability[k]):
        if has_answer[qid]:
            current += raw_scores[qid]
        elif predictions[qid]:
            current -= 1
        if current > best:
            best, best_thresh = current, float(no_answer_probability[qid])
    return best / len(raw_scores), best_thresh


def squad_v2_scores(
    predictions: dict[str, str],
    references: dict[str, list[str]],
    no_answer_probability: dict[str, float] | None = None,
    no_answer_threshold: float = 1.0,
) -> dict:
    """Score predicted answer texts against gold answer texts, SQuAD v2.0 style.

    predictions: id -> predicted text ("" = no answer); ids not in references are ignored.
    references: id -> gold answer texts (empty list = unanswerable).
    no_answer_probability: id -> probability that the question has no answer (None: all 0.0).

    Returns fractions in [0, 1] and counts: exact, f1, total, HasAns_{exact,f1,total} and
    NoAns_{exact,f1,total} (only for a non-empty subset), best_exact, best_exact_thresh,
    best_f1, best_f1_thresh.
    """
    if not references:
        raise FuteError("no reference questions to score: the evaluation split is empty")
    missing = [qid for qid in references if qid not in predictions]
    if missing:
        raise FuteError(
            f"{len(missing)} of {len(references)} question ids have no prediction (e.g. {missing[0]!r}); "
            "predict every id of the evaluation split"
        )
    if no_answer_probability is None:
        no_answer_probability = {qid: 0.0 for qid in references}
    missing = [qid for qid in references if qid not in no_answer_probability]
    if missing:
        raise FuteError(f"{len(missing)} question ids have no no-answer probability (e.g. {missing[0]!r})")

    has_answer = {qid: bool(golds) for qid, golds in references.items()}
    exact_raw, f1_raw = {}, {}
    for qid, golds in references.items():
        golds = [g for g in golds if normalize_answer(g)] or [""]
        exact_raw[qid] = max(compute_exact(g, predictions[qid]) for g in golds)
        f1_raw[qid] = max(compute_f1(g, predictions[qid]) for g in golds)

    def thresholded(raw: dict[str, float]) -> dict[str, float]:
        return {
            qid: float(not has_answer[qid]) if no_answer_probability[qid] > no_answer_threshold else score
            for qid, score in raw.items()
        }

    exact, f1 = thresholded(exact_raw), thresholded(f1_raw)

    def subset(qids: list[str], prefix: str = "") -> dict:
        return {
            f"{prefix}exact": sum(exact[q] for q in qids) / len(qids),
            f"{prefix}f1": sum(f1[q] for q in qids) / len(qids),
            f"{prefix}total": len(qids),
        }

    out = subset(list(references))
    has_ans_qids = [q for q in references if has_answer[q]]
    no_ans_qids = [q for q in references if not has_answer[q]]
    if has_ans_qids:
        out.update(subset(has_ans_qids, "HasAns_"))
    if no_ans_qids:
        out.update(subset(no_ans_qids, "NoAns_"))
    out["best_exact"], out["best_exact_thresh"] = _best_threshold(
        predictions, exact_raw, no_answer_probability, has_answer
    )
    out["best_f1"], out["best_f1_thresh"] = _best_threshold(predictions, f1_raw, no_answer_probability, has_answer)
    return out
