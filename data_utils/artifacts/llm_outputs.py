"""What an LLM run writes about labelled data, and its readers: the label view of verbalizer scores, the
words of an answer, and the inference file of run_llm_inference.py (`InferenceFile`, `write_inference_file`,
`read_inference_file`). y' is in data_utils/artifacts/answers.py, the records both share in llm_records.py.

Label view (`label_distribution`): for one example, each label's score is the max over that
label's verbalizers of their scores (no floor at 0: the original started each label at 0,
which clipped negative scores); normalized_prob = softmax over the labels, in the genre's
one label order (configs/datasets.py GENRE_LABELS); normalized_pred = the label of the best
verbalizer (the first on a tie). Every y' line and inference result carries it; a reader
derives it only for files in the original's layout, which lack it.

Inference file: one JSON object, written at the end of its run (the results gather meanwhile in its partial log,
data_utils/artifacts/result_log.py):

    {"prompt_info", "task" (the genre), the RunIdentity ("model", "dataset", ["data_digest",] "prompt_index",
     "bit", "verbalizer_tokens", "chat_template_sha256"[, "cot_max_new_tokens"][, "backend"]
     [, "max_thinking_tokens"]),
     "chat_template": {"source", "sha256"[, "thinking"]}, "seed", "variant", "cot",
     "summary": {"accuracy", "macro_f1", "num_examples", "labels", "unscored_answers",
                 "non_verbalizer_answers", "non_verbalizer_words"[, "unclosed_thinking"],
                 "split": {"rows", "examples", "no_gold_label", "empty_input", "empty_rows"}},
     "results": [an ExampleResult per example, by data_index, with "normalized_answer"],
     "data" (which data: data_utils/artifacts/data_identity.py)}

The original's layout (per result "data_id", "token_info", "data_entry.answer", no label view) is read as well.
"""
from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from configs.datasets import NUM_PROMPTS, DatasetSpec
from data_utils.declarations import LLM_DATASETS, recorded_spec
from data_utils.artifacts.llm_records import (AnswerCounts, ExampleResult, PromptInfo, RunIdentity, as_json,
                                              flattened)
from data_utils.errors import FuteError
from data_utils.examples import label_index
from data_utils.io import read_json, write_json
from data_utils.metrics import compute_metrics

logger = logging.getLogger(__name__)

# The top-level keys that make a JSON file an inference file (either layout).
INFERENCE_KEYS = ("prompt_index", "task", "dataset", "model", "results")
# Run settings every file of one prompt set must share (absent = None: the original's files have
# no verbalizer_tokens): scores of prompts run under different settings are not comparable.
SETTING_KEYS = ("bit", "verbalizer_tokens", "seed", "variant")
# A file's summary and the recomputed metric are the same sklearn computation; anything
# beyond float noise means the file was edited or its results were mixed.
_SUMMARY_TOLERANCE = 1e-6
# How far from 1 a written label distribution may sum: this project's writers sum to 1 within float noise,
# another writer may round each probability (4 decimals: off by up to 1.5e-4 over 3 labels).
PROB_SUM_TOLERANCE = 1e-3


# ---------------------------------------------------------------- the label view


def label_distribution(word_scores: Sequence[float], verbalizer_labels: Sequence[str],
                       labels: Sequence[str]) -> dict[str, Any]:
    """{"label_scores" [L], "normalized_prob" [L], "normalized_pred"} of one example's verbalizer scores.

    word_scores[i] is the score of a verbalizer of label verbalizer_labels[i]; the outputs follow
    `labels`. A label with no verbalizer score is a FuteError.
    """
    scores = np.asarray(word_scores, dtype=np.float64)
    if scores.shape != (len(verbalizer_labels),):
        raise FuteError(f"{scores.size} verbalizer scores for {len(verbalizer_labels)} verbalizers")
    label_scores = np.full(len(labels), -np.inf)
    for score, label in zip(scores, verbalizer_labels):
        if label not in labels:
            raise FuteError(f"verbalizer label {label!r} is not one of {', '.join(labels)}")
        index = labels.index(label)
        label_scores[index] = max(label_scores[index], score)
    if np.isinf(label_scores).any():
        missing = [label for label, s in zip(labels, label_scores) if np.isinf(s)]
        raise FuteError(f"no verbalizer score for label(s) {', '.join(missing)}")
    shifted = np.exp(label_scores - label_scores.max())
    return {"label_scores": label_scores.tolist(), "normalized_prob": (shifted / shifted.sum()).tolist(),
            "normalized_pred": list(labels).index(verbalizer_labels[int(scores.argmax())])}


def distribution_problem(probs: Any, num_labels: int) -> str | None:
    """What keeps `probs` from being a label distribution over `num_labels` labels (None: nothing): it must
    be a list of num_labels finite, non-negative numbers summing to 1 within PROB_SUM_TOLERANCE."""
    if not isinstance(probs, (list, tuple)) or not all(
            isinstance(p, (int, float)) and not isinstance(p, bool) for p in probs):
        return "is not a list of numbers"
    if len(probs) != num_labels:
        return f"holds {len(probs)} numbers for {num_labels} labels"
    if not all(np.isfinite(probs)):
        return "holds a value that is not a finite number"
    if min(probs) < 0:
        return f"holds the negative value {min(probs)!r}"
    if abs(sum(probs) - 1) > PROB_SUM_TOLERANCE:
        return f"sums to {sum(probs):.6g}, not 1"
    return None


def verbalizer_labels(answer_choices: dict[str, Sequence[str]]) -> list[str]:
    """The label of each verbalizer, in the flat order of prompt_info.answer_choices (label -> words)."""
    return [label for label, words in answer_choices.items() for _ in words]


# ---------------------------------------------------------------- answers that are no verbalizer


def first_word(answer: str) -> str:
    """The first whitespace-separated piece of an answer, as the model wrote it ("" for an all-blank answer).

    A scoring turn's answer ends with the token its verbalizer scores were read at (llm_inference/decoding.py),
    so this is that token's text: "No", "The", '"', "**".
    """
    pieces = answer.split()
    return pieces[0] if pieces else ""


def is_verbalizer_word(word: str, verbalizers: Sequence[str], verbalizer_tokens: str | None) -> bool:
    """Whether an answer's first word is one of the verbalizers (docs/method.md section 5).

    Compared without case and without punctuation or symbols at either end ("Yes", "YES" and "yes." are
    the verbalizer yes; '"' and "**" are none). With verbalizer_tokens "first" a verbalizer split into
    several tokens is scored at its first token, the only one a scoring turn writes, so a first word that
    begins a verbalizer counts too ("unc" of "uncertain"). A blank answer (no word) is no verbalizer.
    """
    core = _strip_marks(word).casefold()
    if not core:
        return False
    words = [v.casefold() for v in verbalizers]
    return core in words or (verbalizer_tokens == "first" and any(v.startswith(core) for v in words))


def _strip_marks(word: str) -> str:
    """`word` without the punctuation and symbol characters (Unicode categories P*, S*) at either end."""
    marks = [unicodedata.category(char)[0] in "PS" for char in word]
    if all(marks):
        return ""
    return word[marks.index(False): len(word) - marks[::-1].index(False)]


def answered_verbalizer(token_info: dict[str, Any], verbalizer_tokens: str | None) -> bool | None:
    """Whether one result's answer begins with a verbalizer: its token_info.first_word_is_verbalizer, or for
    a result written before that field existed, `is_verbalizer_word` of its answer; None when it has neither
    (the original's layout keeps no answer)."""
    known = token_info.get("first_word_is_verbalizer")
    if isinstance(known, bool):
        return known
    answer, verbalizers = token_info.get("answer"), token_info.get("verbalizers")
    if not isinstance(answer, str) or not verbalizers:
        return None
    return is_verbalizer_word(first_word(answer), verbalizers, verbalizer_tokens)


# What a non-verbalizer answer means for the scores, in every warning about it.
NOT_AN_ANSWER = "their verbalizer scores were read where the model wrote that word, not an answer"


def most_of(count: int, total: int) -> bool:
    """More than half: the share of non-verbalizer answers that is warned about."""
    return 2 * count > total


def non_verbalizer_warning(what: str, count: int, total: int, words: dict[str, int]) -> str:
    """The warning for a run most of whose answers (`count` of `total`) begin with no verbalizer;
    `what` names the run ("<file> (prompt 3)"), `words` the most common such first words with their counts."""
    seen = ", ".join(f"{word!r} {n}" for word, n in words.items())
    return (f"{what}: {count} of {total} answers begin with a word that is no verbalizer of the prompt (most often: "
            f"{seen}): {NOT_AN_ANSWER}, so the predictions say little of the model (token_info.first_word of each "
            f"result says what it wrote; a model that follows the answer instruction, or another chat template, "
            f"answers with a verbalizer)")


# ---------------------------------------------------------------- inference files


@dataclass(frozen=True, kw_only=True)
class InferenceSummary:
    """The summary of an inference file: the metrics of normalized_pred against normalized_answer, the label
    order, the answer counts (llm_records.AnswerCounts) and `split`, what the split held (llm_inference.data)."""

    accuracy: float
    macro_f1: float
    num_examples: int
    labels: list[str]
    counts: AnswerCounts = flattened()
    split: dict[str, int]


@dataclass(frozen=True, kw_only=True)
class InferenceFile:
    """The output of one (LLM, dataset, prompt) run: the module docstring's layout. variant: the original's
    field, always None here; data: which data was answered (a declared dataset's declaration with it)."""

    prompt_info: PromptInfo
    task: str
    identity: RunIdentity = flattened()
    chat_template: dict[str, str]
    seed: int
    variant: str | None = None
    cot: bool
    summary: InferenceSummary
    results: list[ExampleResult]
    data: dict[str, Any] | None


def write_inference_file(path: str | Path, output: InferenceFile) -> dict[str, Any]:
    """Write `output` atomically; return its JSON object."""
    content = as_json(output)
    write_json(path, content)
    return content


def read_finished_results(path: Path, identity: RunIdentity) -> dict[int, ExampleResult]:
    """data_index -> result of an earlier finished run's inference file at `path` (none: {}); a file of
    another run (`RunIdentity.check`) or no inference file is refused."""
    if not path.is_file():
        return {}
    content = read_json(path)
    if not isinstance(content, dict) or not isinstance(content.get("results"), list):
        raise FuteError(f"{path} exists and is not an output of run_llm_inference.py; use another --save_path")
    identity.check(content, str(path))
    fix = "the file is damaged: run again with --overwrite True, or use another --save_path"
    results = [ExampleResult.from_json(result, f"{path} result {position}", fix)
               for position, result in enumerate(content["results"])]
    return {result.data_index: result for result in results}


@dataclass(frozen=True)
class PromptOutputs:
    """One inference file: one LLM, one dataset, one prompt, N examples in data_index order.

    probs: float [N, L] (the order of `labels`: the genre's, or a declared dataset's own with its own
    verbalizers); preds, answers: int [N]; ppl: float [N]. preds is the file's own prediction (the
    label of the best verbalizer), which can differ from probs.argmax() when two labels tie exactly.
    settings: the SETTING_KEYS values; metric: the dataset's main metric; data: its digest
    (data_utils/artifacts/data_identity.py; None for files without one).
    verbalizer_answers: bool [N], whether each answer's first word is a verbalizer
    (`answered_verbalizer`); None when a result does not say (the original's layout).
    """

    path: Path
    model: str
    dataset: str
    genre: str
    prompt: int
    layout: str
    data_index: tuple[int, ...]
    probs: np.ndarray
    preds: np.ndarray
    answers: np.ndarray
    ppl: np.ndarray
    summary: dict[str, Any]
    settings: dict[str, Any]
    labels: tuple[str, ...]
    metric: str
    data: str | None = None
    verbalizer_answers: tuple[bool, ...] | None = None

    @property
    def non_verbalizer_answers(self) -> int | None:
        """How many answers begin with a word that is no verbalizer (None: not known)."""
        return None if self.verbalizer_answers is None else self.verbalizer_answers.count(False)

    def performance(self) -> float:
        """The dataset's main metric of this prompt, recomputed; checked against the file's summary."""
        value = compute_metrics((self.metric,), self.preds, self.answers)[self.metric]
        stated = self.summary.get(self.metric)
        if stated is not None and abs(float(stated) - value) > _SUMMARY_TOLERANCE:
            raise FuteError(f"{self.path}: summary says {self.metric} {stated}, its results give {value:.6f}; "
                            f"the file was edited or mixes runs: re-run run_llm_inference.py for it")
        return value


def is_inference_output(content: Any) -> bool:
    """True for the top-level object of an inference file (either layout)."""
    return isinstance(content, dict) and all(key in content for key in INFERENCE_KEYS)


def read_inference_file(path: str | Path, content: dict | None = None) -> PromptOutputs:
    """Read and check one inference file (`content`: its already parsed JSON, if at hand)."""
    path = Path(path)
    content = read_json(path) if content is None else content
    if not is_inference_output(content):
        raise FuteError(f"{path} is not an output of run_llm_inference.py (needs top-level keys "
                        f"{', '.join(INFERENCE_KEYS)}); pass the inference files, one per prompt")
    dataset = str(content["dataset"])
    if dataset not in LLM_DATASETS and not (content.get("data") or {}).get("spec"):
        raise FuteError(f"{path}: dataset {dataset!r} is not an LLM evaluation set; known: "
                        f"{', '.join(sorted(LLM_DATASETS))}, or a declared one (its file then carries the declaration)")
    spec = recorded_spec(content.get("data"), dataset, str(path))
    genre = spec.llm_genre
    if content["task"] != genre:
        raise FuteError(f"{path}: task {content['task']!r} does not match dataset {dataset} (a {genre} set); "
                        f"the file is inconsistent: re-run run_llm_inference.py for it")
    prompt = content["prompt_index"]
    if isinstance(prompt, bool) or not isinstance(prompt, int) or not 0 <= prompt < NUM_PROMPTS:
        raise FuteError(f"{path}: prompt_index {prompt!r} is not a prompt number 0-{NUM_PROMPTS - 1}")
    results = content["results"]
    if not isinstance(results, list) or not results:
        raise FuteError(f"{path} holds no results; re-run run_llm_inference.py for it")
    if "normalized_prob" in results[0]:
        layout, rows = "fute", [_fute_row(result, path, i) for i, result in enumerate(results)]
    else:
        layout, rows = "original", _original_rows(content, spec, path)
    verbalizer_tokens = content.get("verbalizer_tokens")
    rows = [(*row, answered_verbalizer(_token_info(result), verbalizer_tokens)) for row, result in zip(rows, results)]
    rows.sort(key=lambda row: row[0])
    indices = [row[0] for row in rows]
    if len(set(indices)) != len(indices):
        raise FuteError(f"{path}: an example (data_index) appears twice; the file mixes two runs")
    labels = spec.llm_label_names
    try:
        probs = np.array([row[1] for row in rows], dtype=np.float64)
    except (ValueError, TypeError):  # ragged rows or non-numbers
        probs = None
    if probs is None or probs.ndim != 2 or probs.shape[1] != len(labels):
        raise FuteError(f"{path}: normalized_prob must hold {len(labels)} numbers ({', '.join(labels)}) per "
                        f"example; the file is damaged: re-run run_llm_inference.py for it")
    problem = next(((position, problem) for position, problem in enumerate(
        distribution_problem(row[1], len(labels)) for row in rows) if problem is not None), None)
    if problem is not None:
        raise FuteError(f"{path}: example {indices[problem[0]]}'s normalized_prob {problem[1]}; the file is damaged: "
                        f"re-run run_llm_inference.py for it")
    preds = np.array([row[2] for row in rows])
    answers = np.array([row[3] for row in rows])
    for name, values in (("normalized_pred", preds), ("normalized_answer", answers)):
        if not np.issubdtype(values.dtype, np.integer) or values.min() < 0 or values.max() >= len(labels):
            raise FuteError(f"{path}: {name} must be label indices 0-{len(labels) - 1} ({', '.join(labels)})")
    verbalizer_answers = tuple(row[5] for row in rows)
    return PromptOutputs(path=path, model=str(content["model"]), dataset=dataset, genre=genre, prompt=prompt,
                         layout=layout, data_index=tuple(indices), probs=probs, preds=preds, answers=answers,
                         ppl=np.array([row[4] for row in rows], dtype=np.float64),
                         summary=content.get("summary") or {},
                         settings={key: content.get(key) for key in SETTING_KEYS}, labels=labels,
                         metric=spec.main_metric, data=(content.get("data") or {}).get("digest"),
                         verbalizer_answers=None if None in verbalizer_answers else verbalizer_answers)


def _token_info(result: Any) -> dict[str, Any]:
    info = result.get("token_info") if isinstance(result, dict) else None
    return info if isinstance(info, dict) else {}


def _fute_row(result: dict, path: Path, position: int) -> tuple:
    try:
        return (int(result["data_index"]), result["normalized_prob"], result["normalized_pred"],
                result["normalized_answer"], result["prompt_ppl"])
    except (KeyError, TypeError) as err:
        raise FuteError(f"{path}: result {position} lacks {err}; the file is incomplete: re-run "
                        f"run_llm_inference.py for it") from None


def _original_rows(content: dict, spec: DatasetSpec, path: Path) -> list[tuple]:
    """The label view of every result of a file in the original's layout."""
    genre, labels = spec.llm_genre, spec.llm_label_names
    try:
        choices = content["prompt_info"]["answer_choices"]
        owners = verbalizer_labels(choices)
    except (KeyError, TypeError, AttributeError):
        raise FuteError(f"{path}: no prompt_info.answer_choices; a file in the original's layout needs them") from None
    if set(choices) != set(labels):
        raise FuteError(f"{path}: answer_choices name labels {sorted(choices)}, not the {genre} labels {list(labels)}")
    rows = []
    for position, result in enumerate(content["results"]):
        where = f"{path} result {position}"
        try:
            word_scores = result["token_info"]["word_scores"]
            index, answer, ppl = result["data_id"], result["data_entry"]["answer"], result["prompt_ppl"]
        except (KeyError, TypeError) as err:
            raise FuteError(f"{where} lacks {err}; the file is neither this project's layout nor the "
                            f"original's") from None
        if len(word_scores) != len(owners):
            raise FuteError(f"{where}: {len(word_scores)} word_scores for {len(owners)} "
                            f"verbalizers in answer_choices; the file is inconsistent")
        view = label_distribution(word_scores, owners, labels)
        gold = label_index(spec, answer, str(path), index)
        if gold is None:
            raise FuteError(f"{where}: no gold label; prompt selection needs labelled examples")
        rows.append((int(index), view["normalized_prob"], view["normalized_pred"], spec.llm_label(gold), ppl))
    return rows
