"""The prompt sets that prompt selection scores: one LLM, one dataset, prompts 0-12 once each.

Inference files are read by data_utils.artifacts.llm_outputs (this project's layout and the
original's, recognised by their top-level keys, never by their names). Here they are grouped
by (LLM, dataset) and checked as a set: all 13 prompts, the same examples, and one value of
each run setting in SETTING_KEYS (quantisation, verbalizer scoring, sampling seed, model
variant), since scores of prompts run under different settings are not comparable.

The task metric of a prompt (Performance in docs/method.md section 7) is the dataset's main
metric (the registry's: accuracy for SA, macro-F1 for NLI; a declared dataset's, recorded in
its files), recomputed from predictions and gold labels; a file's own summary, when it has one,
must agree. Two datasets of one name (different data: data_utils/artifacts/data_identity.py)
are never one prompt set.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from configs.datasets import NUM_PROMPTS
from data_utils.artifacts.llm_outputs import (INFERENCE_KEYS, SETTING_KEYS, PromptOutputs, is_inference_output,
                                              read_inference_file)
from data_utils.artifacts.seeds import folders, seed_or_default
from data_utils.errors import FuteError
from data_utils.io import read_json

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptSet:
    """The 13 inference files of one (LLM, dataset); runs[p] is prompt p."""

    model: str
    dataset: str
    genre: str
    runs: tuple[PromptOutputs, ...]

    @property
    def metric(self) -> str:
        return self.runs[0].metric

    @property
    def seed(self) -> int:
        """The inference runs' seed (one per set: check_prompt_set; 42 for files that name none)."""
        return seed_or_default(self.runs[0].settings["seed"])

    @property
    def probs(self) -> np.ndarray:
        """[P, N, L] label distributions, P = 13 prompts."""
        return np.stack([run.probs for run in self.runs])

    @property
    def preds(self) -> np.ndarray:
        """[P, N] the files' predicted label indices."""
        return np.stack([run.preds for run in self.runs])

    @property
    def ppl(self) -> np.ndarray:
        """[P, N] prompt perplexities."""
        return np.stack([run.ppl for run in self.runs])

    def fingerprint(self) -> str:
        """sha256 of what the baselines read, prompt by prompt: data_index, probs, preds, answers, ppl.

        A score file records it, so the evaluation can tell scores of these files from scores
        of other files (another run, another sample) with the same model and dataset.
        """
        digest = hashlib.sha256()
        for run in self.runs:
            for values, dtype in ((run.data_index, np.int64), (run.probs, np.float64), (run.preds, np.int64),
                                  (run.answers, np.int64), (run.ppl, np.float64)):
                digest.update(np.ascontiguousarray(values, dtype=dtype).tobytes())
        return digest.hexdigest()

    def performance(self) -> np.ndarray:
        """[P] the task metric of each prompt (see PromptOutputs.performance)."""
        return np.array([run.performance() for run in self.runs])

    @property
    def num_examples(self) -> int:
        return len(self.runs[0].data_index)

    @property
    def non_verbalizer_answers(self) -> list[int | None]:
        """[P] how many answers of each prompt begin with a word that is no verbalizer (None: not known)."""
        return [run.non_verbalizer_answers for run in self.runs]


def check_prompt_set(outputs: Sequence[PromptOutputs]) -> PromptSet:
    """The 13 files of one (LLM, dataset), prompts 0-12 once each, all on the same examples."""
    first = outputs[0]
    for key in ("model", "dataset"):
        values = sorted({str(getattr(o, key)) for o in outputs})
        if len(values) > 1:
            raise FuteError(f"the inference files mix {key}s {', '.join(values)}; pass the 13 files of one "
                            f"{key} ({first.path} is {getattr(first, key)})")
    digests = {o.data: o.path for o in outputs if o.data}  # files written before data was recorded have none
    if len(digests) > 1:
        raise FuteError(f"the inference files of {first.model} on {first.dataset} answer two different datasets of "
                        f"that name ({', '.join(map(str, digests.values()))}); keep the 13 files of one in the folder")
    for key in SETTING_KEYS:
        values = sorted({json.dumps(o.settings[key]) for o in outputs})
        if len(values) > 1:
            odd = next(o for o in outputs if json.dumps(o.settings[key]) != json.dumps(first.settings[key]))
            raise FuteError(f"the inference files of {first.model} on {first.dataset} mix {key} values "
                            f"{', '.join(values)} ({first.path}: {json.dumps(first.settings[key])}, {odd.path}: "
                            f"{json.dumps(odd.settings[key])}); pass 13 files run with one {key}")
    by_prompt: dict[int, PromptOutputs] = {}
    for run in outputs:
        if run.prompt in by_prompt:
            raise FuteError(f"prompt {run.prompt} appears twice ({by_prompt[run.prompt].path} and {run.path}); "
                            f"pass one file per prompt 0-{NUM_PROMPTS - 1}")
        by_prompt[run.prompt] = run
    missing = [p for p in range(NUM_PROMPTS) if p not in by_prompt]
    if missing:
        raise FuteError(f"{first.model} on {first.dataset}: no inference file for prompt(s) "
                        f"{', '.join(map(str, missing))}; run run_llm_inference.py for them")
    for run in outputs:
        if run.data_index != first.data_index:
            raise FuteError(f"{first.path} and {run.path} hold different examples ({len(first.data_index)} vs "
                            f"{len(run.data_index)}, data_index lists differ); re-run them with the same "
                            f"--max_examples, --seed and data")
    return PromptSet(model=first.model, dataset=first.dataset, genre=first.genre,
                     runs=tuple(by_prompt[p] for p in range(NUM_PROMPTS)))


def load_prompt_set(paths: Sequence[str | Path]) -> PromptSet:
    """Read exactly 13 inference files (one LLM, one dataset, prompts 0-12) and check them."""
    if len(paths) != NUM_PROMPTS:
        raise FuteError(f"got {len(paths)} inference files; {NUM_PROMPTS} are needed, one per prompt "
                        f"0-{NUM_PROMPTS - 1} of one LLM on one dataset (comma-separated --paths)")
    return check_prompt_set([read_inference_file(path) for path in paths])


def find_prompt_sets(spec: str | Path, flag: str = "--inference_dir") -> list[PromptSet]:
    """Every (LLM, dataset, seed) among the inference files under `spec` (a folder, or several comma-separated;
    recursively), sorted by (model, dataset, seed).

    Files are recognised by their top-level keys; other JSON files (records, score
    files) are skipped. Each (LLM, dataset, seed) found must have all 13 prompts once.
    """
    groups: dict[tuple[str, str, int], list[PromptOutputs]] = {}
    for folder in map(Path, folders(str(spec), flag)):
        if not folder.is_dir():
            raise FuteError(f"{flag} {folder} is not a folder; pass the folder of the run_llm_inference.py outputs")
        for path in sorted(folder.rglob("*.json")):
            content = read_json(path)
            if is_inference_output(content):
                run = read_inference_file(path, content)
                groups.setdefault((run.model, run.dataset, seed_or_default(run.settings["seed"])), []).append(run)
    if not groups:
        raise FuteError(f"no inference files (JSON with top-level {', '.join(INFERENCE_KEYS)}) under {spec}; "
                        f"check {flag}")
    return [check_prompt_set(groups[key]) for key in sorted(groups)]

