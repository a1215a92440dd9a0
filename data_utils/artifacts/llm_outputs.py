"""What an LLM run writes, and its readers: the label view of verbalizer scores, the y' lines
of run_llm_inference_for_te.py and the inference files of run_llm_inference.py.

Label view (`label_distribution`): for one example, each label's score is the max over that
label's verbalizers of their scores (no floor at 0: the original started each label at 0,
which clipped negative scores); normalized_prob = softmax over the labels, in the genre's
one label order (configs/datasets.py GENRE_LABELS); normalized_pred = the label of the best
verbalizer (the first on a tie). Every y' line and inference result carries it; a reader
derives it only for files in the original's layout, which lack it.

y' line: {**identity, "seed", "cot", "variant", "prompt_info", "data_index", the x' text fields,
"data_entry", "input_prompt", "token_info", "prompt_ppl", "label_scores", "normalized_prob",
"normalized_pred"[, "chat_history"]}, one per x' line (see run_llm_inference_for_te.py).

Inference file: one JSON object {"prompt_index", "prompt_info", "task", "dataset", "model",
settings..., "summary", "results"} (see run_llm_inference.py); the original's layout (per result
"data_id", "token_info", "data_entry.answer", no label view) is read as well.
"""
from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from configs.datasets import GENRE_LABELS, NUM_PROMPTS, DatasetSpec
from data_utils.declarations import LLM_DATASETS, recorded_spec
from data_utils.artifacts.completion import DAMAGED_LINE, answers_complete, is_pending, rerun_hint, unfinished
from data_utils.artifacts.paths import record_path
from data_utils.errors import FuteError
from data_utils.io import complete_lines_end, emptiness, iter_jsonl_lines, read_json
from data_utils.loading import label_index
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

    A scoring turn's answer ends with the token its verbalizer scores were read at (llm_inference/scoring.py),
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


# ---------------------------------------------------------------- y' lines


def answer_line(settings: dict[str, Any], data_index: int, inputs: dict[str, Any],
                result: dict[str, Any]) -> dict[str, Any]:
    """One y' line, less the run's identity that the result log puts first (llm_inference.records.ResultLog):
    the run's settings, the x' line's index and text fields, the scored result."""
    return {**settings, "data_index": data_index, **inputs, **result}


@dataclass(frozen=True)
class Answers:
    """A y' file read for training: inputs[i] ({"text"[, "text_pair"]}) with the LLM's label distribution
    probs[i] ([L], the genre's label order), in data_index order; model / prompt as the lines say;
    complete: its record says it answers every x' line (data_utils/artifacts/completion.py)."""

    inputs: list[dict[str, str]]
    probs: list[list[float]]
    model: str | None
    prompt: int | None
    complete: bool


def read_answers(path: str | Path, genre: str) -> Answers:
    """The y' JSONL of run_llm_inference_for_te.py (or the original's), checked and sorted by data_index.

    Each line holds the input (sa: "content" or "text"; nli: "premise", "hypothesis", at the
    top level or under "data_entry"), "data_index", and either "normalized_prob" or the
    verbalizer scores ("token_info") with "prompt_info.answer_choices" to derive it; a normalized_prob that
    is no distribution over the genre's labels (`distribution_problem`) is an error naming file:line. A repeated
    index or a line of another model or prompt is an error. A half-written last line (its writer
    was killed, or is still writing: only the writer may cut it) is an error naming the command
    that repairs it; a damaged line that ends with its newline is another. A file that does not
    answer every x' line is read with a warning.
    """
    if genre not in GENRE_LABELS:
        raise FuteError(f"--llm_mode needs --task_type sa or nli, not {genre!r}")
    path = Path(path)
    complete = answers_complete(path) is not None
    if not complete and path.is_file() and complete_lines_end(path) != path.stat().st_size:
        pending = unfinished(path)
        fix = (rerun_hint(pending) if pending else f"run the run_llm_inference_for_te.py command with --save_path "
               f"{path} again (in a sweep: the sweep), which finishes it")
        raise FuteError(f"{path}: its last line is half-written: the run writing it was killed, or is still "
                        f"running. Once it is not, {fix}: it cuts the torn line and answers the rest")
    if not path.is_file():
        raise FuteError(f"no y' file {path}; write it with run_llm_inference_for_te.py first, or check --load_path")
    labels = GENRE_LABELS[genre]
    rows: dict[int, tuple[dict, list[float]]] = {}
    provenance: dict[str, Any] = {}
    for where, line in iter_jsonl_lines(path, DAMAGED_LINE):
        try:
            entry = line.get("data_entry", line)
            index = int(line["data_index"])
            example = ({"text": entry.get("content", entry.get("text"))} if genre == "sa"
                       else {"text": entry["premise"], "text_pair": entry["hypothesis"]})
            probs = line.get("normalized_prob")
            if probs is None:
                choices = line.get("answer_choices") or line["prompt_info"]["answer_choices"]
                probs = _derived_probs(line["token_info"]["word_scores"], verbalizer_labels(choices), labels, where)
        except (KeyError, TypeError, ValueError) as err:
            raise FuteError(f"{where} lacks {err} (expected data_index, the {genre} text fields and normalized_prob "
                            f"or token_info with prompt_info.answer_choices); is it a y' file of "
                            f"run_llm_inference_for_te.py for --task_type {genre}?") from None
        if example["text"] is None:
            raise FuteError(f"{where}: no 'content' field for --task_type sa")
        problem = distribution_problem(probs, len(labels))
        if problem is not None:
            field = "normalized_prob" if "normalized_prob" in line else "token_info.word_scores"
            fix = (f"does --task_type {genre} ({', '.join(labels)}) match the file?" if "numbers for" in problem
                   else "the file is damaged or not written by run_llm_inference_for_te.py: rerun it")
            raise FuteError(f"{where}: {field} {problem}; {fix}")
        if index in rows:
            raise FuteError(f"{where}: data_index {index} appears twice; the file mixes two runs")
        rows[index] = (example, [float(p) for p in probs])
        for key in ("model", "prompt_index", "prompt_number"):
            if key in line and provenance.setdefault(key, line[key]) != line[key]:
                raise FuteError(f"{where}: {key} {line[key]!r} differs from earlier lines ({provenance[key]!r})")
    if not rows:
        raise FuteError(f"{path} holds no LLM outputs ({emptiness(path)}); is it the y' file of "
                        f"run_llm_inference_for_te.py, run to its end?")
    if not complete:
        _warn_if_incomplete(path, sorted(rows))
    ordered = [rows[i] for i in sorted(rows)]
    prompt = provenance.get("prompt_index", provenance.get("prompt_number"))
    return Answers(inputs=[x for x, _ in ordered], probs=[y for _, y in ordered], model=provenance.get("model"),
                   prompt=None if prompt is None else int(prompt), complete=complete)


def _derived_probs(word_scores: Any, owners: list[str], labels: Sequence[str], where: str) -> list[float]:
    """normalized_prob of a y' line in the original's layout, from its verbalizer scores (`label_distribution`)."""
    if not np.isfinite(np.asarray(word_scores, dtype=np.float64)).all():
        raise FuteError(f"{where}: token_info.word_scores holds a value that is not a finite number; the file is "
                        f"damaged: rerun the LLM for it")
    try:
        return label_distribution(word_scores, owners, labels)["normalized_prob"]
    except FuteError as err:
        raise FuteError(f"{where}: token_info.word_scores: {err}") from None


def _warn_if_incomplete(path: Path, indices: list[int]) -> None:
    """Warn about a y' file whose record does not say it answers every x' line (a killed LLM run).

    x' is numbered 0..n-1, so a gap in data_index is a missing answer. A run that stopped early
    leaves no gap, only fewer lines, and a pending record (data_utils/artifacts/completion.py) that
    names its command; a finished record whose "answers" entry no longer matches says the file
    changed since; a record of an earlier version (config.lines = the x' count) is compared line
    for line. Without a record, completeness cannot be checked.
    """
    fix = "rerun run_llm_inference_for_te.py on the same files to complete it"
    missing = indices[-1] + 1 - len(indices)
    if missing:
        logger.warning("%s: %d y' lines but data_index runs up to %d: %d x' lines are missing (a killed run?); %s",
                       path, len(indices), indices[-1], missing, fix)
    record = record_path(path)
    if not record.is_file():
        logger.warning("%s: no %s beside it (written when run_llm_inference_for_te.py finishes), so whether every "
                       "x' line was answered cannot be checked", path, record.name)
        return
    content = read_json(record)
    content = content if isinstance(content, dict) else {}
    if is_pending(content):
        logger.warning("%s: the run writing it did not finish, or is still running (%s); %s", path, record.name,
                       rerun_hint(content))
        return
    entry, config = content.get("answers"), content.get("config")
    expected = (entry.get("input_lines") if isinstance(entry, dict)
                else config.get("lines") if isinstance(config, dict) else None)
    if isinstance(expected, int) and expected != len(indices):
        logger.warning("%s: %d y' lines for %d x' lines (%s); %s", path, len(indices), expected, record.name, fix)
    elif isinstance(entry, dict):
        logger.warning("%s: changed since %s was written (a run killed or still running); %s", path, record.name, fix)


# ---------------------------------------------------------------- inference files


def inference_output(identity: dict[str, Any], genre: str, prompt_info: dict[str, Any], chat_template: dict,
                     seed: int, summary: dict[str, Any], results: list[dict[str, Any]],
                     data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The inference file of one (LLM, dataset, prompt): identity (model, dataset, prompt_index, bit,
    verbalizer_tokens, chat_template_sha256[, cot_max_new_tokens][, data_digest]), settings, summary, results and
    `data`, which data was answered (data_utils/artifacts/data_identity.py: a declared dataset's declaration
    with it, for the readers)."""
    head = {"prompt_index": identity["prompt_index"], "prompt_info": prompt_info, "task": genre}
    settings = {"chat_template": chat_template, "seed": seed, "variant": None, "cot": prompt_info["cot"]}
    return {**head, **identity, **settings, "summary": summary, "results": results, "data": data}


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
