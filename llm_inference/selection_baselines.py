"""The prompt-selection baselines, one entry each: the one place a baseline is registered.

A baseline scores the P prompts of one (LLM, dataset), higher = better (docs/method.md section 6).
Its entry gives its id (its key in the score file, the original script's), its row in the prompt
table, what it computes and after whom, the inputs it reads and the function that computes them
(llm_inference/prompt_selection.py), which is called with those inputs by name.
run_prompt_selection_baselines.py writes the scores of every entry (`score_prompt_set`), in this
order; run_eval.py prompt makes a row of each (`table_order`, `paper_names`).

A baseline is skipped when an input it needs is missing, and the score file's record says why;
only Self-Select's order can be missing (the paper's orders cover three LLMs).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from data_utils.artifacts.selection_scores import SelectionScores, SelfSelectSource
from data_utils.errors import FuteError
from llm_inference import prompt_selection as ps
from llm_inference.selection_files import PromptSet

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SelectionInputs:
    """What the baselines read about the P prompts of one (LLM, dataset), shapes as in prompt_selection.

    probs: float [P, N, L] label distributions; preds: int [P, N], the inference files' predictions;
    ppl: float [P, N] prompt perplexities; order: Self-Select's prompt numbers, best first, or None
    when there is none. why_missing: input name -> why it is None.
    """

    probs: np.ndarray
    preds: np.ndarray
    ppl: np.ndarray
    order: list[int] | None = None
    why_missing: Mapping[str, str] = field(default_factory=dict)

    @property
    def num_prompts(self) -> int:
        return self.probs.shape[0]

    @property
    def num_labels(self) -> int:
        return self.probs.shape[-1]


@dataclass(frozen=True)
class SelectionBaseline:
    """id: its key in the score file; paper_name: its row in the prompt table, where rows come by table_row;
    needs: the SelectionInputs it reads, passed to `score` by name; score: those inputs -> float [P], higher =
    better; source: what it computes and after whom."""

    id: str
    paper_name: str
    table_row: int
    needs: tuple[str, ...]
    score: Callable[..., np.ndarray]
    source: str


# The original script's order, which the score files keep. table_row: the slides' row order, with MDL
# (which the slides leave out) beside the other entropy-based scores.
BASELINES: tuple[SelectionBaseline, ...] = (
    SelectionBaseline("mi", "MI", table_row=0, needs=("probs",), score=ps.mutual_information,
                      source="mutual information H(mean_x p) - mean_x H(p) (Sorensen et al. 2022)"),
    SelectionBaseline("spell", "SPELL", table_row=8, needs=("ppl",), score=ps.spell,
                      source="SPELL: minus the mean prompt perplexity (Gonen et al. 2022)"),
    SelectionBaseline("ge", "GlobalE", table_row=2, needs=("preds", "num_labels"), score=ps.global_entropy,
                      source="GlobalE: entropy of the histogram of predicted labels (Lu et al. 2022)"),
    SelectionBaseline("le", "LocalE", table_row=1, needs=("probs",), score=ps.local_entropy,
                      source="LocalE: mean over examples of the entropy of p (Lu et al. 2022)"),
    SelectionBaseline("mdl", "MDL", table_row=3, needs=("probs",), score=ps.mdl,
                      source="MDL (Wu et al. 2023) as the reference computes it: mean over examples of the mean "
                             "over labels of -log p"),
    SelectionBaseline("zlpm", "ZPS-Log", table_row=4, needs=("probs", "preds"),
                      score=partial(ps.zps_scores, ensemble="log_prob_mean"),
                      source="ZPS (Liao et al. 2022), pseudo-labels from the mean log-probability of the confident "
                             "prompts"),
    SelectionBaseline("zpm", "ZPS-Prob", table_row=5, needs=("probs", "preds"),
                      score=partial(ps.zps_scores, ensemble="prob_mean"),
                      source="ZPS (Liao et al. 2022), pseudo-labels from the mean probability of the confident "
                             "prompts"),
    SelectionBaseline("zmv", "ZPS-Vote", table_row=6, needs=("probs", "preds"),
                      score=partial(ps.zps_scores, ensemble="majority_vote"),
                      source="ZPS (Liao et al. 2022), pseudo-labels from the majority vote of the confident prompts"),
    SelectionBaseline("selfsel", "Self-Select", table_row=7, needs=("order", "num_prompts"),
                      score=ps.self_select_scores, source="Self-Select: the paper's fixed best-first order of prompts"),
)


def score_prompts(inputs: SelectionInputs) -> tuple[dict[str, list[float]], dict[str, str]]:
    """(id -> the baseline's [P] scores, id -> why a baseline was skipped), in BASELINES order."""
    scores: dict[str, list[float]] = {}
    skipped: dict[str, str] = {}
    for baseline in BASELINES:
        missing = [name for name in baseline.needs if getattr(inputs, name) is None]
        if missing:
            skipped[baseline.id] = "; ".join(inputs.why_missing.get(name, f"no {name}") for name in missing)
            logger.warning("%s skipped: %s", baseline.paper_name, skipped[baseline.id])
            continue
        values = np.asarray(baseline.score(**{name: getattr(inputs, name) for name in baseline.needs}), dtype=float)
        if values.shape != (inputs.num_prompts,) or not np.all(np.isfinite(values)):
            raise FuteError(f"baseline {baseline.id} returned {values.shape} values, not {inputs.num_prompts} finite "
                            f"scores, one per prompt; fix its score function")
        scores[baseline.id] = values.tolist()
    return scores, skipped


def score_prompt_set(prompts: PromptSet, self_select: SelfSelectSource, run: dict[str, Any]) -> SelectionScores:
    """The score file's content for one (LLM, dataset): every baseline's scores of its prompts, and the record
    of what was scored (`run`: how, data_utils.io.run_record)."""
    inputs = SelectionInputs(probs=prompts.probs, preds=prompts.preds, ppl=prompts.ppl, order=self_select.order,
                             why_missing={"order": self_select.reason} if self_select.reason else {})
    scores, skipped = score_prompts(inputs)
    return SelectionScores(scores=scores, model=prompts.model, dataset=prompts.dataset, genre=prompts.genre,
                           metric=prompts.metric, num_prompts=len(prompts.runs), num_examples=prompts.num_examples,
                           paths=[str(output.path) for output in prompts.runs], inputs_sha256=prompts.fingerprint(),
                           self_select=self_select, skipped=skipped, run=run)


def table_order() -> list[str]:
    """The baselines' ids in the prompt table's row order."""
    return [baseline.id for baseline in sorted(BASELINES, key=lambda baseline: baseline.table_row)]


def paper_names() -> dict[str, str]:
    """id -> the prompt table's row name."""
    return {baseline.id: baseline.paper_name for baseline in BASELINES}
