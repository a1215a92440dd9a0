"""Thinking models: a chat template with Qwen3's `enable_thinking` switch is rendered with thinking off, so the
first generated token is the answer, and the output records it. The template here is written for the test after
the behaviour of Qwen3's public one (ChatML; with enable_thinking false the generation prompt closes an empty
<think> block); the model is the tests' tiny Qwen3."""
from __future__ import annotations

import json

from transformers import AutoTokenizer

import run_llm_inference
from llm_inference.prompts import (answer_token_ids, apply_chat_template, format_first_turn, load_prompt,
                                   takes_thinking_switch)
from llm_inference.scoring import scored_verbalizer_ids

QWEN3_LIKE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)
EMPTY_THINKING = "<|im_start|>assistant\n<think>\n\n</think>\n\n"


def test_a_template_with_a_thinking_switch_is_rendered_with_thinking_off(tiny_qwen3):
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen3)
    assert not takes_thinking_switch(tokenizer.chat_template)  # the tiny Qwen3's own: plain ChatML
    messages = [{"role": "user", "content": "Is it good?"}]
    assert apply_chat_template(tokenizer, messages).endswith("<|im_start|>assistant\n")
    tokenizer.chat_template = QWEN3_LIKE
    assert takes_thinking_switch(QWEN3_LIKE)
    assert apply_chat_template(tokenizer, messages).endswith(EMPTY_THINKING)
    # Left to itself (enable_thinking undefined) the template would let the model open its reasoning instead.
    assert tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True).endswith(
        "<|im_start|>assistant\n")
    # The verbalizer ids are those written after the closed block.
    prompt = load_prompt("sa", 4)
    _, generation_prompt = format_first_turn(tokenizer, prompt, {"text": "Fine."}, True)
    assert generation_prompt.endswith(EMPTY_THINKING)
    assert scored_verbalizer_ids(tokenizer, prompt, "single", True) == [
        token for word in prompt.verbalizer_list for token in answer_token_ids(tokenizer, generation_prompt, word)]


def test_the_output_records_that_thinking_was_turned_off(tmp_path, tiny_qwen3):
    template = tmp_path / "qwen3_like.jinja"
    template.write_text(QWEN3_LIKE)
    data = tmp_path / "sst2.jsonl"
    data.write_text("".join(json.dumps({"sentence": s, "label": y, "idx": i}) + "\n"
                            for i, (s, y) in enumerate([("Fine.", 1), ("Dull.", 0)])))
    argv = ["--model", str(tiny_qwen3), "--dataset_name", "sst2", "--prompt_number", "0", "--bit", "32",
            "--device", "cpu", "--dataset_path", str(data)]
    out = run_llm_inference.main([*argv, "--chat_template", str(template), "--save_path", str(tmp_path / "off")])
    assert out["chat_template"]["thinking"] == "off"
    assert all(r["input_prompt"].endswith(EMPTY_THINKING) for r in out["results"])
    plain = run_llm_inference.main([*argv, "--save_path", str(tmp_path / "plain")])
    assert "thinking" not in plain["chat_template"]
