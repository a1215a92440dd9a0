"""What both LLM entry scripts do for each (LLM, prompt, inputs) run: the command's `Session` (its flags,
tokenizer, chat template and lazily loaded model), each run's identity, scoring what is not done, and running
several runs on one model load. What each run writes: llm_inference/run_outputs.py.

A run's identity (`run_identity`) is written into every result and compared on resume
(data_utils.artifacts.llm_records.RunIdentity): the model as given, what it answers (dataset or task genre), the
prompt, the bit width, how verbalizers are scored, the chat template's SHA-256, for a
CoT prompt only the reasoning cap (so a vanilla run's results keep their keys), and the backend (where it is not
transformers).
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
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from data_utils import cli
from data_utils.artifacts.llm_records import ExampleResult, RunIdentity
from data_utils.artifacts.result_log import ResultLog
from data_utils.errors import FuteError
from data_utils.io import run_record
from data_utils.progress import progress
from llm_inference.backends import load_decoder
from llm_inference.decoding import Decoder, GenerationSettings, thinking_tags
from llm_inference.models import ChatTemplate, load_chat_tokenizer
from llm_inference.prompts import Prompt, keeps_system_message
from llm_inference.records import example_result
from llm_inference.scoring import PromptScorer, generation_settings, scored_verbalizer_ids

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
    """The LLM of --model at --bit on a device, as a decoder of --backend (llm_inference/backends.py), loaded the
    first time it is asked for, then kept."""

    def __init__(self, name: str, bit: int, device: torch.device, backend: str, tokenizer):
        self.name, self.bit, self.device, self.backend, self.tokenizer = name, bit, device, backend, tokenizer
        self._decoder: Decoder | None = None
        self.loads = 0

    def get(self) -> Decoder:
        if self._decoder is None:
            started = time.perf_counter()
            self._decoder = load_decoder(self.backend, self.name, self.bit, self.device, self.tokenizer)
            self.loads += 1
            logger.info("model loaded in %.2f s (%s backend)", time.perf_counter() - started, self.backend)
        return self._decoder


@dataclass(frozen=True)
class Session:
    """What every run of one command shares: its flags and command line (`script` with `argv`), the tokenizer and
    chat template, the generation settings, the model (loaded once, on first use), the device, and whether the
    tokenizer has reasoning tags (decoding.thinking_tags: its runs record their thinking budget)."""

    args: argparse.Namespace
    argv: Sequence[str] | None
    script: str
    tokenizer: Any
    template: ChatTemplate
    settings: dict[str, GenerationSettings]
    model: LazyModel
    device: torch.device
    thinks: bool

    def record(self, **config: Any) -> dict[str, Any]:
        """The run record (data_utils.io.run_record) of one run: the flags, with `config` for that run's values."""
        return run_record({**vars(self.args), **config}, self.argv, self.script)


def open_session(args: argparse.Namespace, argv: Sequence[str] | None, script: str,
                 prompts: Sequence[Prompt]) -> Session:
    """Start the command (device, logging), load the tokenizer and chat template, and refuse verbalizers of
    `prompts` it cannot score, before any model weights load."""
    settings = generation_settings(args.cot_max_new_tokens, args.max_thinking_tokens)
    device = cli.start(args)
    tokenizer, template = load_chat_tokenizer(args.model, args.chat_template)
    check_verbalizers(tokenizer, prompts, args.verbalizer_tokens)
    return Session(args, argv, script, tokenizer, template, settings,
                   LazyModel(args.model, args.bit, device, args.backend, tokenizer), device,
                   thinks=thinking_tags(tokenizer) is not None)


def run_identity(session: Session, prompt: Prompt, **subject: str | None) -> RunIdentity:
    """The identity of one run of `session` with `prompt`; `subject`: dataset (and data_digest) or task_genre."""
    args = session.args
    return RunIdentity(model=args.model, **subject, prompt_index=prompt.number, bit=args.bit,
                       verbalizer_tokens=args.verbalizer_tokens, chat_template_sha256=session.template.sha256,
                       cot_max_new_tokens=session.settings["cot"].max_new_tokens if prompt.is_cot else None,
                       backend=None if args.backend == "transformers" else args.backend,
                       max_thinking_tokens=session.settings["vanilla"].max_thinking_tokens if session.thinks else None)


def score_pending(session: Session, pending: Sequence[dict[str, Any]], log: ResultLog,
                  done: dict[int, ExampleResult], prompt: Prompt,
                  to_line: Callable[[dict[str, Any], ExampleResult], Any], desc: str) -> None:
    """Score `pending` in batches; each batch's results are appended to the log as lines (`to_line(example,
    result)`: a record of data_utils.artifacts.llm_records) and added to `done` before the next batch starts."""
    if not pending:
        return
    args = session.args
    scorer = PromptScorer(session.model.get(), session.tokenizer, prompt, session.settings, args.verbalizer_tokens)
    with progress(total=len(pending), desc=desc, unit="examples") as bar:
        for batch, scores in scorer.score_all(pending, args.batch_size):
            results = [example_result(example, score, prompt) for example, score in zip(batch, scores)]
            log.append(to_line(example, result) for example, result in zip(batch, results))
            done.update((result.data_index, result) for result in results)
            bar.update(len(batch))
