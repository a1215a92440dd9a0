"""What an LLM run writes per example and per run, built from what it scored: the typed records of
data_utils/artifacts/llm_records.py, filled here so that both entry scripts build them one way.

`example_result` is one scored example (with its gold label for labelled data), `prompt_info` the prompt as
every output writes it, `answer_counts` what a run's answers were (with `warn_non_verbalizer`, the warning when
most answers of a prompt are no verbalizer), `inference_summary` an inference file's summary.
`check_same_inputs` refuses earlier results that were not made from this run's inputs.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from data_utils.artifacts.llm_outputs import (InferenceSummary, answered_verbalizer, first_word, most_of,
                                              non_verbalizer_warning)
from data_utils.artifacts.llm_records import AnswerCounts, ExampleResult, PromptInfo, TokenInfo, as_json
from data_utils.errors import FuteError
from data_utils.metrics import compute_metrics

logger = logging.getLogger(__name__)

# How many of the most common first words that are no verbalizer a run's summary lists.
NON_VERBALIZER_WORDS = 5


def check_same_inputs(done: dict[int, ExampleResult], examples: list[dict[str, Any]], where: str,
                      flags: str) -> None:
    """Refuse earlier results (data_index -> result) that were not made from these examples.

    The identity says which model and prompt; only the inputs say which data. A result
    whose data_index is among the examples must have their data_entry (the text fields
    and gold answer); a result whose data_index is not among them would be dropped or
    mixed in, so it is refused too. `flags` names the flags that choose the inputs.
    """
    entries = {example["data_index"]: example["data_entry"] for example in examples}
    for index, result in sorted(done.items()):
        if index not in entries:
            outside = sorted(set(done) - set(entries))
            raise FuteError(f"{where} holds {len(outside)} results of examples this run does not have (data_index "
                            f"{outside[0]}, ...): rerun with that file's {flags}, use another --save_path or "
                            "delete that file")
        if result.data_entry != entries[index]:
            raise FuteError(f"{where}: example {index} was scored on other input text than this run's (another "
                            f"{flags}?); use another --save_path or delete that file")


def prompt_info(prompt) -> PromptInfo:
    """The prompt (llm_inference.prompts.Prompt) as written into every output."""
    return PromptInfo(number=prompt.number, genre=prompt.genre, template_id=prompt.template_id, name=prompt.name,
                      template=prompt.template, labels=list(prompt.labels), cot=prompt.is_cot,
                      answer_choices={label: list(words) for label, words in prompt.verbalizers.items()})


def example_result(example: dict[str, Any], score, prompt) -> ExampleResult:
    """One scored example. example: from llm_inference.data (its "label", the gold label, is None for x');
    score: a scoring.ExampleScore; prompt: the Prompt it was scored with (its label view)."""
    from llm_inference.scoring import label_distribution

    token_info = TokenInfo(word_scores=score.word_scores, verbalizers=score.verbalizers,
                           answer_step=score.answer_step, answer=score.answer, answer_scored=score.answer_scored,
                           first_word=score.first_word, first_word_is_verbalizer=score.first_word_is_verbalizer,
                           thinking=score.thinking)
    return ExampleResult(data_index=example["data_index"], data_entry=example["data_entry"],
                         input_prompt=score.input_prompt, token_info=token_info, prompt_ppl=score.prompt_ppl,
                         **label_distribution(score.word_scores, prompt), chat_history=score.chat_history,
                         normalized_answer=example["label"])


def answer_counts(results: Iterable[ExampleResult], verbalizer_tokens: str) -> AnswerCounts:
    """The answer counts of a run's results (a result written before first_word_is_verbalizer existed is judged
    from its answer: llm_outputs.answered_verbalizer); at most NON_VERBALIZER_WORDS words are listed."""
    infos = [as_json(result.token_info) for result in results]
    words = Counter(info.get("first_word", first_word(info["answer"])) for info in infos
                    if answered_verbalizer(info, verbalizer_tokens) is False)
    blocks = [info["thinking"] for info in infos if info.get("thinking")]
    return AnswerCounts(unscored_answers=sum(info.get("answer_scored") is False for info in infos),
                        non_verbalizer_answers=sum(words.values()),
                        non_verbalizer_words=dict(words.most_common(NON_VERBALIZER_WORDS)),
                        unclosed_thinking=sum(not block["closed"] for block in blocks) if blocks else None)


def warn_non_verbalizer(what: str, counts: AnswerCounts, total: int) -> None:
    """Log the warning when most of a run's `total` answers begin with no verbalizer."""
    if most_of(counts.non_verbalizer_answers, total):
        logger.warning(non_verbalizer_warning(what, counts.non_verbalizer_answers, total, counts.non_verbalizer_words))


def inference_summary(results: Sequence[ExampleResult], labels: Sequence[str], verbalizer_tokens: str,
                      split: dict[str, int]) -> InferenceSummary:
    """The summary of an inference file: accuracy and macro-F1 of normalized_pred against normalized_answer
    (data_utils.metrics), the label order, the answer counts and what the split held."""
    metrics = compute_metrics(("accuracy", "macro_f1"), [result.normalized_pred for result in results],
                              [result.normalized_answer for result in results])
    return InferenceSummary(accuracy=metrics["accuracy"], macro_f1=metrics["macro_f1"], num_examples=len(results),
                            labels=list(labels), counts=answer_counts(results, verbalizer_tokens), split=split)
