"""The records an LLM run writes into its files, each field named once: the run's identity, its prompt, one
scored example, and the line that holds a scored example in an appended log.

Three files carry them: the y' JSONL of run_llm_inference_for_te.py (one `AnswerLine` per x' line:
data_utils/artifacts/answers.py), the partial log of run_llm_inference.py (one `LoggedResult` per finished
example, until the run writes its output) and that output, the inference file (`InferenceFile`:
data_utils/artifacts/llm_outputs.py). `as_json` turns any of them into the JSON object written; a field marked
`omitted_when_none` is left out when None (a vanilla prompt's results have no chat_history, a sa run's identity
no dataset), every other field is always written. `ResultLog` (data_utils/artifacts/result_log.py) appends the
lines and reads them back, as `ExampleResult`s, on resume.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from data_utils.errors import FuteError

_OMIT, _FLATTEN = "omit_when_none", "flatten"


def omitted_when_none() -> Any:
    return field(default=None, metadata={_OMIT: True})


def flattened() -> Any:
    """A field whose own fields (a record) or keys (a dict) sit at the top level of its parent's JSON object."""
    return field(metadata={_FLATTEN: True})


def as_json(record: Any) -> Any:
    """The JSON value of a record (a dataclass of this module), of a list of them, or of a plain value."""
    if isinstance(record, list):
        return [as_json(item) for item in record]
    if not is_dataclass(record):
        return record
    content: dict[str, Any] = {}
    for entry in fields(record):
        value = getattr(record, entry.name)
        if value is None and entry.metadata.get(_OMIT):
            continue
        if entry.metadata.get(_FLATTEN):
            content.update(as_json(value))
        else:
            content[entry.name] = as_json(value)
    return content


def _pick(cls: type, content: Any, where: str, fix: str) -> dict[str, Any]:
    """The values of `cls`'s fields in `content` (a JSON object); a missing field that has no default is a
    FuteError naming `where` and `fix`."""
    if not isinstance(content, dict):
        raise FuteError(f"{where}: not a JSON object; {fix}")
    picked = {entry.name: content[entry.name] for entry in fields(cls) if entry.name in content}
    required = {entry.name for entry in fields(cls) if not entry.metadata.get(_OMIT)}
    missing = sorted(required - picked.keys())
    if missing:
        raise FuteError(f"{where} lacks {', '.join(missing)}; {fix}")
    return picked


@dataclass(frozen=True, kw_only=True)
class RunIdentity:
    """What tells one LLM run's results from any other's: written into every line of its logs and at the top of
    its inference file, compared on resume (`check`). It answers a `dataset` (run_llm_inference.py; a declared
    one with its `data_digest`) or a `task_genre`'s x' (run_llm_inference_for_te.py); `cot_max_new_tokens` is
    there for a CoT prompt only, so that a vanilla run's results keep their keys; `backend` names the inference
    backend other than transformers (llm_inference/backends.py), absent for transformers, whose results were
    written before there was a choice; `max_thinking_tokens`, the budget of a reasoning block, is there for a
    model whose vocabulary has reasoning tags only (llm_inference/decoding.py, 3)."""

    model: str
    dataset: str | None = omitted_when_none()
    task_genre: str | None = omitted_when_none()
    data_digest: str | None = omitted_when_none()
    prompt_index: int
    bit: int
    verbalizer_tokens: str
    chat_template_sha256: str
    cot_max_new_tokens: int | None = omitted_when_none()
    backend: str | None = omitted_when_none()
    max_thinking_tokens: int | None = omitted_when_none()

    def check(self, found: dict[str, Any], where: str) -> None:
        """Refuse results of another run: every identity key must match, one this run leaves out included (absent
        on both sides; values compared as strings, as JSON may have turned a number into another type)."""
        mine = as_json(self)
        for key in (entry.name for entry in fields(self)):
            if str(found.get(key)) != str(mine.get(key)):
                raise FuteError(f"{where} holds results of another run ({key}={found.get(key)!r}, this run has "
                                f"{key}={mine.get(key)!r}); use another --save_path or delete that file")


@dataclass(frozen=True, kw_only=True)
class PromptInfo:
    """The prompt as written into every output (the original's `prompt_info`): answer_choices maps each label to
    its verbalizers, `labels` is the label order of every label view."""

    number: int
    genre: str
    template_id: str
    name: str
    template: str
    answer_choices: dict[str, list[str]]
    labels: list[str]
    cot: bool


@dataclass(frozen=True, kw_only=True)
class TokenInfo:
    """What the model answered and the verbalizer scores read from it (llm_inference/decoding.py): word_scores[i]
    is the score of verbalizers[i] at answer_step. The last three fields are absent from results written before
    they existed (None here, and left out when written again); thinking ({"tokens", "closed"}: the scored turn's
    reasoning block, llm_inference/decoding.py) is there only for a turn that had one."""

    word_scores: list[float]
    verbalizers: list[str]
    answer_step: int | None
    answer: str
    answer_scored: bool | None = omitted_when_none()
    first_word: str | None = omitted_when_none()
    first_word_is_verbalizer: bool | None = omitted_when_none()
    thinking: dict[str, Any] | None = omitted_when_none()


@dataclass(frozen=True, kw_only=True)
class ExampleResult:
    """One scored example: the original's per-example fields plus the label view (llm_outputs.label_distribution:
    label_scores [L], normalized_prob [L], normalized_pred), in the order of PromptInfo.labels.
    chat_history: CoT prompts only; normalized_answer: the gold label, inference results only."""

    data_index: int
    data_entry: dict[str, Any]
    input_prompt: str
    token_info: TokenInfo
    prompt_ppl: float
    label_scores: list[float]
    normalized_prob: list[float]
    normalized_pred: int
    chat_history: list[dict[str, str]] | None = omitted_when_none()
    normalized_answer: int | None = omitted_when_none()

    @classmethod
    def from_json(cls, content: Any, where: str, fix: str) -> ExampleResult:
        """The result in a JSON object that holds one (with other keys beside it: a log line's identity, a y'
        line's x' texts); a missing field is a FuteError naming `where` and `fix`."""
        picked = _pick(cls, content, where, fix)
        picked["token_info"] = TokenInfo(**_pick(TokenInfo, picked["token_info"], f"{where} token_info", fix))
        return cls(**picked)


@dataclass(frozen=True, kw_only=True)
class LoggedResult:
    """A line of run_llm_inference.py's partial log: the run's identity, then the result."""

    identity: RunIdentity = flattened()
    result: ExampleResult = flattened()


@dataclass(frozen=True, kw_only=True)
class AnswerCounts:
    """How a run's answers went, for an inference file's summary or a y' record: unscored_answers spell a
    verbalizer under an id that was not scored, or never closed their reasoning block; non_verbalizer_answers
    begin with a word that is no verbalizer of the prompt; non_verbalizer_words: the most common such words with
    their counts; unclosed_thinking: the answers whose reasoning block outran its budget (of those unscored), for a
    run whose answers opened one (absent otherwise)."""

    unscored_answers: int
    non_verbalizer_answers: int
    non_verbalizer_words: dict[str, int]
    unclosed_thinking: int | None = omitted_when_none()
