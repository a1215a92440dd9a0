"""Reading the inference files that prompt selection scores: one LLM, one dataset, prompts 0-12 once each.

An inference file is recognised by its top-level keys (`prompt_index`, `task`,
`dataset`, `model`, `results`), never by its name. Two layouts are read:

- this project's (run_llm_inference.py): per result `data_index`, `normalized_prob`
  ([L] in the genre's label order), `normalized_pred`, `normalized_answer`,
  `prompt_ppl`; a top-level `summary` with the metrics.
- the original's: per result `data_id`, `token_info` {`word_scores`, `verbalizers`},
  `data_entry.answer` (the dataset's own label, an index or a name), `prompt_ppl`;
  no label view and no summary. The label view is derived here exactly as this
  project's scoring derives it (llm_inference.scoring.label_distribution: label
  score = max over its verbalizers, softmax over labels, prediction = the label of
  the best verbalizer), in the genre's one label order.

The task metric of a prompt (Performance in docs/method.md section 7) is the dataset's main
metric from configs/datasets.py (accuracy for SA, macro-F1 for NLI), recomputed
from predictions and gold labels; a file's own summary, when it has one, must agree.

The 13 files of a set must share the run settings in SETTING_KEYS (quantisation,
verbalizer scoring, sampling seed, model variant): scores of prompts run under
different settings are not comparable.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from configs.datasets import GENRE_LABELS, LLM_DATASETS
from data_utils.errors import FuteError
from data_utils.io import read_json
from data_utils.loading import label_index
from data_utils.metrics import compute_metrics
from llm_inference.prompts import NUM_PROMPTS, Prompt
from llm_inference.scoring import label_distribution

logger = logging.getLogger(__name__)

INFERENCE_KEYS = ("prompt_index", "task", "dataset", "model", "results")
# Top-level keys every file of one prompt set must agree on (absent = None, e.g. the
# original's files have no verbalizer_tokens).
SETTING_KEYS = ("bit", "verbalizer_tokens", "seed", "variant")
# A file's summary and the recomputed metric are the same sklearn computation; anything
# beyond float noise means the file was edited or its results were mixed.
_SUMMARY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class PromptOutputs:
    """One inference file: one LLM, one dataset, one prompt, N examples in data_index order.

    probs: float [N, L] (genre label order); preds, answers: int [N]; ppl: float [N].
    preds is the file's own prediction (the label of the best verbalizer), which can differ
    from probs.argmax() when two labels tie exactly. settings: the SETTING_KEYS values.
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

    @property
    def metric(self) -> str:
        return LLM_DATASETS[self.dataset].main_metric

    def performance(self) -> float:
        """The dataset's main metric of this prompt, recomputed; checked against the file's summary."""
        value = compute_metrics((self.metric,), self.preds, self.answers)[self.metric]
        stated = self.summary.get(self.metric)
        if stated is not None and abs(float(stated) - value) > _SUMMARY_TOLERANCE:
            raise FuteError(f"{self.path}: summary says {self.metric} {stated}, its results give {value:.6f}; "
                            f"the file was edited or mixes runs: re-run run_llm_inference.py for it")
        return value


@dataclass(frozen=True)
class PromptSet:
    """The 13 inference files of one (LLM, dataset); runs[p] is prompt p."""

    model: str
    dataset: str
    genre: str
    runs: tuple[PromptOutputs, ...]

    @property
    def metric(self) -> str:
        return LLM_DATASETS[self.dataset].main_metric

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
    if dataset not in LLM_DATASETS:
        raise FuteError(f"{path}: dataset {dataset!r} is not an LLM evaluation set; known: "
                        f"{', '.join(sorted(LLM_DATASETS))}")
    genre = LLM_DATASETS[dataset].llm_genre
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
        layout, rows = "original", _original_rows(content, dataset, genre, path)
    rows.sort(key=lambda row: row[0])
    indices = [row[0] for row in rows]
    if len(set(indices)) != len(indices):
        raise FuteError(f"{path}: an example (data_index) appears twice; the file mixes two runs")
    labels = GENRE_LABELS[genre]
    try:
        probs = np.array([row[1] for row in rows], dtype=np.float64)
    except (ValueError, TypeError):  # ragged rows or non-numbers
        probs = None
    if probs is None or probs.ndim != 2 or probs.shape[1] != len(labels):
        raise FuteError(f"{path}: normalized_prob must hold {len(labels)} numbers ({', '.join(labels)}) per "
                        f"example; the file is damaged: re-run run_llm_inference.py for it")
    preds = np.array([row[2] for row in rows])
    answers = np.array([row[3] for row in rows])
    for name, values in (("normalized_pred", preds), ("normalized_answer", answers)):
        if not np.issubdtype(values.dtype, np.integer) or values.min() < 0 or values.max() >= len(labels):
            raise FuteError(f"{path}: {name} must be label indices 0-{len(labels) - 1} ({', '.join(labels)})")
    return PromptOutputs(path=path, model=str(content["model"]), dataset=dataset, genre=genre, prompt=prompt,
                         layout=layout, data_index=tuple(indices), probs=probs, preds=preds, answers=answers,
                         ppl=np.array([row[4] for row in rows], dtype=np.float64),
                         summary=content.get("summary") or {},
                         settings={key: content.get(key) for key in SETTING_KEYS})


def _fute_row(result: dict, path: Path, position: int) -> tuple:
    try:
        return (int(result["data_index"]), result["normalized_prob"], result["normalized_pred"],
                result["normalized_answer"], result["prompt_ppl"])
    except (KeyError, TypeError) as err:
        raise FuteError(f"{path}: result {position} lacks {err}; the file is incomplete: re-run "
                        f"run_llm_inference.py for it") from None


def _original_rows(content: dict, dataset: str, genre: str, path: Path) -> list[tuple]:
    """The label view of every result of a file in the original's layout."""
    spec, labels = LLM_DATASETS[dataset], GENRE_LABELS[genre]
    try:
        choices = content["prompt_info"]["answer_choices"]
        prompt = Prompt(number=content["prompt_index"], genre=genre, template_id=content["prompt_index"] % 10,
                        is_cot=bool(content.get("cot")), template="",
                        verbalizers={label: tuple(words) for label, words in choices.items()},
                        labels=labels, fields=())
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
        if len(word_scores) != len(prompt.verbalizer_labels):
            raise FuteError(f"{where}: {len(word_scores)} word_scores for {len(prompt.verbalizer_labels)} "
                            f"verbalizers in answer_choices; the file is inconsistent")
        view = label_distribution(word_scores, prompt)
        gold = label_index(spec, answer, str(path), index)
        if gold is None:
            raise FuteError(f"{where}: no gold label; prompt selection needs labelled examples")
        rows.append((int(index), view["normalized_prob"], view["normalized_pred"],
                     labels.index(spec.labels[gold]), ppl))
    return rows


def check_prompt_set(outputs: Sequence[PromptOutputs]) -> PromptSet:
    """The 13 files of one (LLM, dataset), prompts 0-12 once each, all on the same examples."""
    first = outputs[0]
    for key in ("model", "dataset"):
        values = sorted({str(getattr(o, key)) for o in outputs})
        if len(values) > 1:
            raise FuteError(f"the inference files mix {key}s {', '.join(values)}; pass the 13 files of one "
                            f"{key} ({first.path} is {getattr(first, key)})")
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


def find_prompt_sets(folder: str | Path, flag: str = "--inference_dir") -> list[PromptSet]:
    """Every (LLM, dataset) among the inference files under `folder` (recursively), sorted by (model, dataset).

    Files are recognised by their top-level keys; other JSON files (records, score
    files) are skipped. Each (LLM, dataset) found must have all 13 prompts.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FuteError(f"{flag} {folder} is not a folder; pass the folder of the run_llm_inference.py outputs")
    groups: dict[tuple[str, str], list[PromptOutputs]] = {}
    for path in sorted(folder.rglob("*.json")):
        content = read_json(path)
        if is_inference_output(content):
            run = read_inference_file(path, content)
            groups.setdefault((run.model, run.dataset), []).append(run)
    if not groups:
        raise FuteError(f"no inference files (JSON with top-level {', '.join(INFERENCE_KEYS)}) under {folder}; "
                        f"check {flag}")
    return [check_prompt_set(groups[key]) for key in sorted(groups)]

