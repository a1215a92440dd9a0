"""y': an LLM's answers to x' under one prompt (run_llm_inference_for_te.py), one `AnswerLine` per x' line, and
its reader for training (`read_answers`, run_task_emb.py --llm_mode).

A line, in the order written (the lines themselves in the order examples finish: sort by data_index):

    {"model", "task_genre", "prompt_index", "bit", "verbalizer_tokens", "chat_template_sha256"   # RunIdentity
     ["cot_max_new_tokens"], ["backend"], ["max_thinking_tokens"],
     "seed", "cot", "variant", "prompt_info",                                                   # AnswerLine
     "content" | "premise", "hypothesis",                           # the x' line's texts, as they are
     "data_index", "data_entry": {"text" | "premise", "hypothesis", "answer": "none"},         # ExampleResult
     "input_prompt", "token_info", "prompt_ppl", "label_scores", "normalized_prob", "normalized_pred"
     ["chat_history"]}

(the records: data_utils/artifacts/llm_records.py). The original's y' lines, which lack the label view, are
read too: normalized_prob is derived from token_info.word_scores and prompt_info.answer_choices.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from configs.datasets import GENRE_LABELS
from data_utils.artifacts.completion import (DAMAGED_LINE, AnswersEntry, answers_complete, is_pending, rerun_hint,
                                             unfinished)
from data_utils.artifacts.llm_outputs import distribution_problem, label_distribution, verbalizer_labels
from data_utils.artifacts.llm_records import ExampleResult, PromptInfo, RunIdentity, flattened
from data_utils.artifacts.paths import record_path
from data_utils.errors import FuteError
from data_utils.io import complete_lines_end, emptiness, iter_jsonl_lines, read_json

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class AnswerLine:
    """One y' line: the run's identity and settings, the x' line's texts (`inputs`: data_utils/artifacts/
    model_inputs.py, its data_index aside), and the LLM's result on it. variant: the original's field, always
    None here. Appended by data_utils.artifacts.result_log.ResultLog."""

    identity: RunIdentity = flattened()
    seed: int
    cot: bool
    variant: str | None = None
    prompt_info: PromptInfo
    inputs: dict[str, Any] = flattened()
    result: ExampleResult = flattened()


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
    seed: int | None = None  # the run's --seed, as its lines name it (the original's lines do not)


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
        for key in ("model", "prompt_index", "prompt_number", "seed"):
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
                   prompt=None if prompt is None else int(prompt), complete=complete,
                   seed=None if provenance.get("seed") is None else int(provenance["seed"]))


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
    entry, config = AnswersEntry.of_record(content), content.get("config")
    expected = (entry.input_lines if entry is not None
                else config.get("lines") if isinstance(config, dict) else None)
    if isinstance(expected, int) and expected != len(indices):
        logger.warning("%s: %d y' lines for %d x' lines (%s); %s", path, len(indices), expected, record.name, fix)
    elif entry is not None:
        logger.warning("%s: changed since %s was written (a run killed or still running); %s", path, record.name, fix)


