"""What both LLM entry scripts do for each (LLM, prompt, inputs) run: its identity, scoring what is not
done, and running several runs on one model load.

A run's identity (`run_identity`) is written into every result and compared on resume
(llm_inference.records): the model as given, what it answers (dataset or task genre), the
prompt, the bit width, how verbalizers are scored, the chat template's SHA-256 and, for a
CoT prompt only, the reasoning cap (so a vanilla run's results keep their keys).
`score_pending` scores the examples not done yet, appending each batch to the run's
result log; the model is a `LazyModel`, loaded on first use: a finished run never loads it,
and several runs of one process share one load.
`check_verbalizers` refuses verbalizers the tokenizer cannot score before any weights load.

Several runs in one command: `--prompt_number 0-12` (or 0,3,10) and, for run_llm_inference.py,
`--dataset_name sst2,cb`; `--save_path` (and a local `--dataset_path`) then names each run's
file with the placeholders {dataset} and {prompt}. Each file is written, resumed, checked and
refused exactly as if its run were alone (`run_each`); a run that fails with a FuteError is
reported and the others go on.
"""
from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch

from data_utils.errors import FuteError
from data_utils.progress import progress
from llm_inference.decoding import GenerationSettings
from llm_inference.models import ChatTemplate, load_llm_model
from llm_inference.prompts import Prompt, keeps_system_message
from llm_inference.records import ResultLog
from llm_inference.scoring import ExampleScore, PromptScorer, scored_verbalizer_ids

logger = logging.getLogger(__name__)

T = TypeVar("T")


def run_each(runs: Sequence[tuple[str, Callable[[], T]]]) -> list[T]:
    """Call every run (name, function) in order; a single run's FuteError propagates as it is. With several,
    a run that fails with a FuteError is logged and skipped, the others go on, and a FuteError naming
    every failed run is raised at the end (their files are left as they were; the others are written)."""
    if len(runs) == 1:
        return [runs[0][1]()]
    results, failed = [], []
    for name, run in runs:
        try:
            results.append(run())
        except FuteError as err:
            logger.error("%s failed: %s", name, err)
            failed.append(f"{name} ({err})")
    if failed:
        raise FuteError(f"{len(failed)} of {len(runs)} runs failed, the other {len(runs) - len(failed)} are written: "
                        + "; ".join(failed))
    return results


def run_identity(args: argparse.Namespace, prompt: Prompt, template: ChatTemplate,
                 settings: dict[str, GenerationSettings], subject: dict[str, Any]) -> dict[str, Any]:
    """The keys that tell this run's results from any other's; `subject`: {"dataset": d} or {"task_genre": g}."""
    identity = {"model": args.model, **subject, "prompt_index": prompt.number, "bit": args.bit,
                "verbalizer_tokens": args.verbalizer_tokens, "chat_template_sha256": template.sha256}
    if prompt.is_cot:
        identity["cot_max_new_tokens"] = settings["cot"].max_new_tokens
    return identity


def check_verbalizers(tokenizer, prompts: Sequence[Prompt], verbalizer_tokens: str) -> None:
    """Refuse, before any model weights load, verbalizers the tokenizer cannot score; one FuteError says each
    distinct problem once (prompts sharing their verbalizers share it), naming where the words are set."""
    system = keeps_system_message(tokenizer)
    problems: list[str] = []
    for prompt in prompts:
        try:
            scored_verbalizer_ids(tokenizer, prompt, verbalizer_tokens, system)
        except FuteError as err:
            if str(err) not in problems:
                problems.append(str(err))
    if problems:
        raise FuteError("; ".join(problems))


class LazyModel:
    """The LLM of --model at --bit on a device, loaded the first time it is asked for, then kept."""

    def __init__(self, name: str, bit: int, device: torch.device):
        self.name, self.bit, self.device = name, bit, device
        self._model = None
        self.loads = 0

    def get(self):
        if self._model is None:
            started = time.perf_counter()
            self._model = load_llm_model(self.name, self.bit, self.device)
            self.loads += 1
            logger.info("model loaded in %.2f s", time.perf_counter() - started)
        return self._model


def score_pending(pending: Sequence[dict[str, Any]], log: ResultLog, done: dict[int, dict[str, Any]],
                  model: LazyModel, tokenizer, prompt: Prompt, settings: dict[str, GenerationSettings],
                  verbalizer_tokens: str, batch_size: int,
                  to_record: Callable[[dict[str, Any], ExampleScore], dict[str, Any]], desc: str) -> None:
    """Score `pending` in batches; each batch's records (`to_record(example, score)`) are appended to the
    log and added to `done` (data_index -> record) before the next batch starts."""
    if not pending:
        return
    scorer = PromptScorer(model.get(), tokenizer, prompt, settings, verbalizer_tokens)
    with progress(total=len(pending), desc=desc, unit="examples") as bar:
        for batch, scores in scorer.score_all(pending, batch_size):
            records = [to_record(example, score) for example, score in zip(batch, scores)]
            log.append(records)
            done.update((record["data_index"], record) for record in records)
            bar.update(len(batch))
