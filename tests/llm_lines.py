"""Records of an LLM run built as the writers build them (data_utils/artifacts/llm_records.py), for tests that
need y' lines or inference results without running a model."""
from __future__ import annotations

import json

from data_utils.artifacts.answers import AnswerLine
from data_utils.artifacts.llm_records import ExampleResult, PromptInfo, RunIdentity, TokenInfo, as_json

IDENTITY = RunIdentity(model="m", task_genre="sa", prompt_index=1, bit=16, verbalizer_tokens="single",
                       chat_template_sha256="0" * 64)
PROMPT_INFO = PromptInfo(number=1, genre="sa", template_id="t1", name="p1", template="{text} good or bad?",
                         answer_choices={"negative": ["bad"], "positive": ["good"]}, labels=["negative", "positive"],
                         cot=False)


def result(index: int, gold: int | None = None, prob: float = 0.75) -> ExampleResult:
    """The result of example `index`: positive with probability `prob` (label_scores: their logits)."""
    token_info = TokenInfo(word_scores=[0.0, 1.0], verbalizers=["bad", "good"], answer_step=0, answer="good",
                           answer_scored=True, first_word="good", first_word_is_verbalizer=True)
    return ExampleResult(data_index=index, data_entry={"text": f"text {index}", "answer": "none"},
                         input_prompt=f"text {index} good or bad?", token_info=token_info, prompt_ppl=3.5,
                         label_scores=[0.0, 1.0], normalized_prob=[1 - prob, prob], normalized_pred=1,
                         normalized_answer=gold)


def answer_line(index: int, identity: RunIdentity = IDENTITY) -> AnswerLine:
    return AnswerLine(identity=identity, seed=0, cot=False, prompt_info=PROMPT_INFO,
                      inputs={"content": f"text {index}"}, result=result(index))


def y_line(index: int) -> str:
    """One y' line as run_llm_inference_for_te.py writes it."""
    return json.dumps(as_json(answer_line(index))) + "\n"
