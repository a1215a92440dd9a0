"""Append-only result logs that a killed run can resume from, and that refuse to mix runs.

A result log is a JSONL file with one finished example per line. Each line holds
the run's identity (e.g. model, prompt_index, bit, dataset or task_genre) and a
"data_index". Lines are appended and flushed after every batch, so a killed run
loses at most the batch in flight; a kill in the middle of a write leaves a last
line without its newline, which `repair_tail` cuts away (with a warning) before
anything reads the file. A line whose identity differs from the current run's
is refused: results of two models or prompts are never mixed in one file, and an
example written twice (two runs appending at once) is refused too; `check_same_inputs`
refuses results of other input data. The entry scripts hold the log's lock while they
append (data_utils.artifacts.completion.writing).

Also here: what every result holds (`example_record`, `prompt_info`) and the counts of
answers a run's summary gives (`answer_counts`), with the warning when most answers of a
prompt are no verbalizer (`warn_non_verbalizer`).
"""
from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from data_utils.artifacts.completion import DAMAGED_LINE
from data_utils.artifacts.llm_outputs import answered_verbalizer, first_word, most_of, non_verbalizer_warning
from data_utils.errors import FuteError
from data_utils.io import check_writable, complete_lines_end, ensure_parent_writable, iter_jsonl_lines

logger = logging.getLogger(__name__)

# How many of the most common first words that are no verbalizer a run's summary lists.
NON_VERBALIZER_WORDS = 5


def repair_tail(path: Path) -> bool:
    """Cut a half-written last line (one without a final newline) off `path`; True when it did.

    Only the writer calls this, before it appends: it is the one process writing the file.
    """
    if not path.is_file():
        return False
    size, keep = path.stat().st_size, complete_lines_end(path)
    if keep == size:
        return False
    os.truncate(path, keep)
    logger.warning("%s: the last line was half-written (a killed run?): removed %d bytes; that example is redone",
                   path, size - keep)
    return True


def check_identity(found: dict[str, Any], identity: dict[str, Any], where: str) -> None:
    """Refuse results of another run: every identity key must match (compared as strings)."""
    for key, value in identity.items():
        if str(found.get(key)) != str(value):
            raise FuteError(f"{where} holds results of another run ({key}={found.get(key)!r}, this run has "
                            f"{key}={value!r}); use another --save_path or delete that file")


def check_same_inputs(done: dict[int, dict[str, Any]], examples: list[dict[str, Any]], where: str,
                      flags: str) -> None:
    """Refuse earlier results (data_index -> record) that were not made from these examples.

    The identity says which model and prompt; only the inputs say which data. A result
    whose data_index is among the examples must have their data_entry (the text fields
    and gold answer); a result whose data_index is not among them would be dropped or
    mixed in, so it is refused too. `flags` names the flags that choose the inputs.
    """
    entries = {example["data_index"]: example["data_entry"] for example in examples}
    for index, record in sorted(done.items()):
        if index not in entries:
            outside = sorted(set(done) - set(entries))
            raise FuteError(f"{where} holds {len(outside)} results of examples this run does not have (data_index "
                            f"{outside[0]}, ...): rerun with that file's {flags}, use another --save_path or "
                            "delete that file")
        if record.get("data_entry") != entries[index]:
            raise FuteError(f"{where}: example {index} was scored on other input text than this run's (another "
                            f"{flags}?); use another --save_path or delete that file")


class ResultLog:
    """The JSONL log of finished examples of one run (identity: dict of key -> value)."""

    def __init__(self, path: str | os.PathLike, identity: dict[str, Any]):
        self.path = check_writable(path)
        self.identity = identity

    def load(self) -> dict[int, dict[str, Any]]:
        """data_index -> record of every finished example (repairs a torn last line first)."""
        done: dict[int, dict[str, Any]] = {}
        if not self.path.is_file():
            return done
        repair_tail(self.path)
        for where, record in iter_jsonl_lines(self.path, DAMAGED_LINE):
            if not isinstance(record.get("data_index"), int):
                raise FuteError(f"{where}: not a result line (no integer data_index); use another --save_path")
            check_identity(record, self.identity, where)
            if record["data_index"] in done:  # one writer at a time (its lock) never writes an example twice
                raise FuteError(f"{where}: data_index {record['data_index']} appears twice: two runs wrote to "
                                f"{self.path.name} at once; run again with --overwrite True to start it afresh")
            done[record["data_index"]] = record
        if done:
            logger.info("%s: %d examples already done, resuming", self.path, len(done))
        return done

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Append records as lines (identity added) and flush them to disk."""
        lines = [json.dumps({**self.identity, **record}, ensure_ascii=False) + "\n"
                 for record in records]
        with open(ensure_parent_writable(self.path), "a", encoding="utf-8") as handle:
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())


def prompt_info(prompt) -> dict[str, Any]:
    """The prompt as written into every output (the original's `prompt_info`, with its `answer_choices`)."""
    return {
        "number": prompt.number,
        "genre": prompt.genre,
        "template_id": prompt.template_id,
        "name": prompt.name,
        "template": prompt.template,
        "answer_choices": {label: list(words) for label, words in prompt.verbalizers.items()},
        "labels": list(prompt.labels),
        "cot": prompt.is_cot,
    }


def answer_counts(records: Iterable[dict[str, Any]], verbalizer_tokens: str) -> dict[str, Any]:
    """The answer counts of a run's results, for its summary (or y' record):

    unscored_answers: answers that spell a verbalizer under an id that was not scored (answer_scored false);
    non_verbalizer_answers: answers whose first word is no verbalizer of the prompt (a result written before
    first_word_is_verbalizer existed is judged from its answer: llm_outputs.answered_verbalizer);
    non_verbalizer_words: the most common such first words (at most NON_VERBALIZER_WORDS) with their counts.
    """
    infos = [record["token_info"] for record in records]
    words = Counter(info.get("first_word", first_word(info.get("answer", ""))) for info in infos
                    if answered_verbalizer(info, verbalizer_tokens) is False)
    return {"unscored_answers": sum(info.get("answer_scored") is False for info in infos),
            "non_verbalizer_answers": sum(words.values()),
            "non_verbalizer_words": dict(words.most_common(NON_VERBALIZER_WORDS))}


def warn_non_verbalizer(what: str, counts: dict[str, Any], total: int) -> None:
    """Log the warning when most of a run's `total` answers begin with no verbalizer (counts: `answer_counts`)."""
    if most_of(counts["non_verbalizer_answers"], total):
        logger.warning(non_verbalizer_warning(what, counts["non_verbalizer_answers"], total,
                                              counts["non_verbalizer_words"]))


def example_record(example: dict[str, Any], score, labels: dict[str, Any]) -> dict[str, Any]:
    """One finished example: the original's per-example fields plus the label view.

    example: from llm_inference.data; score: a scoring.ExampleScore; labels: from
    scoring.label_distribution.
    """
    record = {
        "data_index": example["data_index"],
        "data_entry": example["data_entry"],
        "input_prompt": score.input_prompt,
        "token_info": {
            "word_scores": score.word_scores,
            "verbalizers": score.verbalizers,
            "answer_step": score.answer_step,
            "answer": score.answer,
            "answer_scored": score.answer_scored,
            "first_word": score.first_word,
            "first_word_is_verbalizer": score.first_word_is_verbalizer,
        },
        "prompt_ppl": score.prompt_ppl,
        **labels,
    }
    if score.chat_history is not None:
        record["chat_history"] = score.chat_history
    return record
