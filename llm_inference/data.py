"""The examples an LLM answers: a labelled evaluation split, or the x' JSONL of model task embedding.

An example is {"data_index": int, "fields": {prompt field: text}, "data_entry": dict,
"label": int | None}, and for x' "inputs" (the x' line's texts, which its y' line repeats):

- fields are the prompt's placeholders (SA: text; NLI: premise, hypothesis),
  filled from the dataset's `inputs`, or from the x' line
  (SA: "content"; NLI: "premise", "hypothesis");
- data_entry is what the original wrote per example (the fields plus "answer":
  the gold label as stored in the data, or "none" for x');
- label is the gold label's index in the order the LLM's answers are scored in: the genre's
  (configs.datasets.GENRE_LABELS), mapped by label NAME (cb stores entailment, contradiction,
  neutral; the genre order is entailment, neutral, contradiction; a declaration may map its
  names, llm.labels), or a declared dataset's own labels when it brings its own verbalizers.
"""
from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from configs.datasets import DatasetSpec
from data_utils.artifacts.model_inputs import ModelInput
from data_utils.declarations import LLM_DATASETS, get_spec, is_declaration
from data_utils.errors import FuteError
from data_utils.examples import check_column, check_kept, cr_example
from data_utils.loading import load_eval_split
from llm_inference.prompts import Prompt, load_prompt

logger = logging.getLogger(__name__)

# The prompt placeholders an x' line's texts fill, in data_utils.artifacts.model_inputs.INPUT_FIELDS order.
PROMPT_FIELDS: dict[str, tuple[str, ...]] = {"sa": ("text",), "nli": ("premise", "hypothesis")}


def get_llm_spec(name: str) -> DatasetSpec:
    """An LLM evaluation dataset: a registry name or a declaration file with an `llm` entry; an unknown name
    lists the known ones."""
    if not is_declaration(name) and name not in LLM_DATASETS:
        raise FuteError(f"unknown dataset {name!r} for LLM inference; known: {', '.join(sorted(LLM_DATASETS))}; or "
                        f"a declaration file of one's own with an llm entry (docs/your_data.md)")
    spec = get_spec(name, script="run_llm_inference.py")
    if spec.llm_genre is None:
        raise FuteError(f"{name} declares no llm entry, so no prompt can answer it; add llm: {{genre: sa}} (or nli), "
                        f"with verbalizers for labels of its own (docs/your_data.md)")
    return spec


def dataset_prompt(spec: DatasetSpec, number: int) -> Prompt:
    """Prompt `number` of the dataset's genre; with the dataset's own verbalizers, those words answer for its own
    labels in the genre's templates."""
    prompt = load_prompt(spec.llm_genre, number)
    if not spec.llm_verbalizers:
        return prompt
    where = spec.declaration.given if spec.declaration else f"the declaration of {spec.name}"
    return replace(prompt, verbalizers=dict(spec.llm_verbalizers), labels=spec.labels,
                   verbalizers_key=f"{where}: llm.verbalizers")


def sample_indices(total: int, max_examples: int, seed: int) -> list[int]:
    """At most max_examples of range(total): shuffled with random.Random(seed), cut, sorted (as the reference)."""
    indices = list(range(total))
    if total > max_examples:
        random.Random(seed).shuffle(indices)
        indices = sorted(indices[:max_examples])
    return indices


def load_eval_examples(spec: DatasetSpec, prompt_fields: tuple[str, ...], dataset_path: str | None,
                       max_examples: int, seed: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """(examples, counts): a seeded sample of at most max_examples of the dataset's usable evaluation examples,
    sorted by index, and `check_kept`'s counts of the whole split.

    The whole split is judged first, as the LM side does (`data_utils.examples.cr_examples`): a row without a
    gold label (also one that lacks the label field), with an empty input or with every cell empty is left
    out and counted, and a split with too many such rows is refused whatever the sample; the sample is then
    drawn among the usable examples (`sample_indices`). data_index is the row's index in the split.
    dataset_path: a folder holding `<llm_eval_split>.jsonl` (or .json/.csv/.parquet), or one
    such file; None reads the split from the declaration's files or the hub.
    """
    if max_examples < 1:
        raise FuteError(f"--max_examples must be at least 1, got {max_examples}")
    if len(prompt_fields) != len(spec.inputs):
        raise FuteError(f"{spec.name} has inputs {spec.inputs}, which do not fill the prompt fields {prompt_fields}")
    split = load_eval_split(spec, spec.llm_eval_split, dataset_path)
    rows, where = split.rows, split.where
    check_column(rows, spec.label_field, where)
    usable, left_out = {}, Counter()
    for index, (row, number) in enumerate(zip(rows, split.numbers)):
        example = cr_example(spec, row, where, number)  # errors name the row as numbered in its file
        if isinstance(example, str):
            left_out[example] += 1
        else:
            usable[index] = example
    counts = check_kept(list(usable.values()), left_out, spec.label_field, where)
    indices = list(usable)
    examples = []
    for index in (indices[i] for i in sample_indices(len(indices), max_examples, seed)):
        example, answer = usable[index], rows[index][spec.label_field]
        fields = dict(zip(prompt_fields, [example["text"], example.get("text_pair")]))
        examples.append({
            "data_index": index,
            "fields": fields,
            # numpy scalars (from CSV or parquet) -> python, so the record is plain JSON.
            "data_entry": {**fields, "answer": answer.item() if hasattr(answer, "item") else answer},
            "label": spec.llm_label(example["label"]),
        })
    logger.info("%s: %d of %d usable examples (seed %d)", where, len(examples), len(usable), seed)
    return examples, counts


def input_examples(inputs: Sequence[ModelInput], genre: str) -> list[dict[str, Any]]:
    """The x' lines (data_utils.artifacts.model_inputs.read_model_inputs) as examples to score: their texts under
    the genre's prompt fields, no gold label ("answer": "none" in data_entry, as the reference wrote)."""
    examples = []
    for item in inputs:
        fields = dict(zip(PROMPT_FIELDS[genre], item.text_fields(genre)))
        examples.append({"data_index": item.data_index, "fields": fields, "inputs": item.texts,
                         "data_entry": {**fields, "answer": "none"}, "label": None})
    return examples
