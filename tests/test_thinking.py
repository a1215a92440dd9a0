"""Thinking models. A chat template with Qwen3's `enable_thinking` switch is rendered with thinking off, so the
first generated token is the answer, and the output records it. A model that thinks anyway (its template opens
the block, or it opens one itself) is scored after its closing tag, within --max_thinking_tokens; a block left
open leaves its example unscored and counted. The templates here are written for the tests after the behaviour
of Qwen3's public one (ChatML; with enable_thinking false the generation prompt closes an empty <think> block)
and of DeepSeek-R1's (the generation prompt opens the block); the model is the tests' tiny Qwen3, with Qwen3's
reasoning tags added to its vocabulary where a test needs them, steered to write a scripted answer."""
from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoTokenizer

import run_llm_inference
from data_utils.errors import FuteError
from llm_inference.decoding import Decoder, GenerationSettings, Turn, thinking_tags
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


# ----------------------------------------------------------------------------- models that think before answering

THINK, END_THINK = "<think>", "</think>"
# A template that cannot switch thinking off and opens the block itself, as DeepSeek-R1's and QwQ's do.
OPENS_THINKING = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}"
)


@pytest.fixture(scope="module")
def thinking_qwen3(tiny_qwen3, tmp_path_factory):
    """The tiny Qwen3 with Qwen3's reasoning tags added to its vocabulary (added, not special, as Qwen3 has them)."""
    from transformers import AutoModelForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen3)
    tokenizer.add_tokens([THINK, END_THINK])
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen3)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    folder = tmp_path_factory.mktemp("thinking_qwen3")
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


class _Tokens(Decoder):
    """A decoder that only names tokens: the tests drive its turns with logits of their own."""

    def run(self, prompts, settings, score_ids, with_ppl):
        raise NotImplementedError


def _drive(tokenizer, prompt, script, score_ids, budget, max_new_tokens=5):
    """A turn driven step by step by logits whose greedy token is `script`'s; (turn, the raw logits of each step)."""
    turn = Turn(_Tokens(tokenizer, None, None, "tiny"), GenerationSettings(max_new_tokens, 0, 1.0, 0, budget),
                score_ids, prompt)
    generator, seen = torch.Generator().manual_seed(0), []
    for step, token in enumerate(script):
        logits = torch.randn(len(tokenizer), generator=generator)
        logits[token] = 50.0
        seen.append(logits)
        turn.advance(logits, step)
        if turn.done:
            break
    return turn, seen


def _ids(tokenizer, *pieces):
    return [tokenizer.convert_tokens_to_ids(piece) if piece in (THINK, END_THINK)
            else tokenizer.encode(piece, add_special_tokens=False)[0] for piece in pieces]


def test_the_answer_after_a_closed_block_is_scored(thinking_qwen3):
    tokenizer = AutoTokenizer.from_pretrained(thinking_qwen3)
    assert thinking_tags(tokenizer) == tuple(_ids(tokenizer, THINK, END_THINK))
    think, end, hmm, so, newline, yes, no = _ids(tokenizer, THINK, END_THINK, "hmm", "so", "\n", "yes", "no")
    prompt = tokenizer.encode("<|im_start|>assistant\n", add_special_tokens=False)
    # The model opens the block, writes 2 tokens, closes it, a blank line, then answers: step 5 is the answer.
    turn, seen = _drive(tokenizer, prompt, [think, hmm, so, end, newline, yes, no], [yes, no], budget=2)
    result = turn.result(None)
    assert (result.answer_step, result.thinking_tokens, result.thinking_closed) == (5, 2, True)
    assert result.generated == [think, hmm, so, end, newline, yes] and turn.done
    assert result.scores == seen[5][[yes, no]].tolist()
    # The template opened the block (the prompt ends in "<think>\n"): the answer follows the closing tag.
    opened = tokenizer.encode("<|im_start|>assistant\n<think>\n", add_special_tokens=False)
    turn, seen = _drive(tokenizer, opened, [hmm, end, newline, no], [yes, no], budget=1)
    result = turn.result(None)
    assert (result.answer_step, result.thinking_tokens, result.thinking_closed) == (3, 1, True)
    assert result.scores == seen[3][[yes, no]].tolist()
    # A budget of 0 still lets the model close an empty block.
    turn, seen = _drive(tokenizer, prompt, [think, end, yes], [yes, no], budget=0)
    assert (turn.result(None).answer_step, turn.result(None).thinking_tokens) == (2, 0)


def test_a_block_left_open_leaves_the_turn_unscored(thinking_qwen3):
    tokenizer = AutoTokenizer.from_pretrained(thinking_qwen3)
    think, end, hmm, so, yes, no = _ids(tokenizer, THINK, END_THINK, "hmm", "so", "yes", "no")
    prompt = tokenizer.encode("<|im_start|>assistant\n", add_special_tokens=False)
    # Budget 2: a third token inside the block ends the turn, before the closing tag would come.
    turn, seen = _drive(tokenizer, prompt, [think, hmm, so, hmm, end, yes], [yes, no], budget=2)
    result = turn.result(None)
    assert turn.done and len(result.generated) == 4
    assert (result.answer_step, result.thinking_tokens, result.thinking_closed) == (None, 3, False)
    assert result.scores == seen[0][[yes, no]].tolist()  # step 0's, as for an answer that never came
    # End-of-sequence inside the block ends it unclosed too.
    turn, _ = _drive(tokenizer, prompt, [think, tokenizer.eos_token_id, yes], [yes, no], budget=5)
    assert (turn.done, turn.result(None).thinking_closed, turn.result(None).answer_step) == (True, False, None)
    # A turn runs at most the answer's steps plus the budget, the opening and the closing tag.
    assert turn.max_steps == 5 + 5 + 2


def test_reasoning_turns_and_models_without_tags_decode_as_before(thinking_qwen3, tiny_qwen3):
    tokenizer = AutoTokenizer.from_pretrained(thinking_qwen3)
    think, hmm, yes, no = _ids(tokenizer, THINK, "hmm", "yes", "no")
    prompt = tokenizer.encode("<|im_start|>assistant\n", add_special_tokens=False)
    # A CoT reasoning turn (nothing scored) generates its block as reasoning: the opening tag is its answer step.
    turn, _ = _drive(tokenizer, prompt, [think, hmm, yes], None, budget=0, max_new_tokens=3)
    assert (turn.result(None).answer_step, turn.result(None).thinking_tokens, len(turn.generated)) == (0, None, 3)
    # Without reasoning tags in the vocabulary nothing changes: the first non-blank token is the answer.
    plain = AutoTokenizer.from_pretrained(tiny_qwen3)
    assert thinking_tags(plain) is None
    turn = Turn(_Tokens(plain, None, None, "tiny"), GenerationSettings(5, 0, 1.0, 0, 10), _ids(plain, "yes", "no"),
                prompt)
    assert turn.max_steps == 5


def _steered(model, script):
    """`model` made to write `script` greedily after every prompt (batch of one): its logits pushed towards each
    scripted token in turn, everything else (cache, positions) the model's own."""
    forward = model.forward
    state = {"step": 0}

    def steered(*args, logits_to_keep=0, **kwargs):
        output = forward(*args, logits_to_keep=logits_to_keep, **kwargs)
        ids = kwargs["input_ids"]
        state["step"] = 0 if ids.shape[1] > 1 else state["step"] + 1
        if state["step"] < len(script):
            output.logits[:, -1, script[state["step"]]] += 1e4
        return output

    model.forward = steered
    return model


def test_run_llm_inference_scores_after_the_block_and_counts_blocks_left_open(tmp_path, thinking_qwen3,
                                                                             monkeypatch):
    from llm_inference import backends
    from llm_inference.decoding import GreedyScorer
    from llm_inference.models import load_llm_model

    tokenizer = AutoTokenizer.from_pretrained(thinking_qwen3)
    think, end, hmm, so, newline, yes = _ids(tokenizer, THINK, END_THINK, "hmm", "so", "\n", "yes")
    script = [think, hmm, so, end, newline, yes]
    monkeypatch.setitem(backends.LOADERS, "transformers", lambda name, bit, device, tok: GreedyScorer(
        _steered(load_llm_model(name, bit, device), script), tok))
    data = tmp_path / "sst2.jsonl"
    data.write_text("".join(json.dumps({"sentence": s, "label": y, "idx": i}) + "\n"
                            for i, (s, y) in enumerate([("Fine.", 1), ("Dull.", 0), ("Good.", 1)])))
    argv = ["--model", str(thinking_qwen3), "--dataset_name", "sst2", "--prompt_number", "0", "--bit", "32",
            "--device", "cpu", "--dataset_path", str(data), "--batch_size", "1"]
    out = run_llm_inference.main([*argv, "--max_thinking_tokens", "2", "--save_path", str(tmp_path / "closed")])
    assert out["max_thinking_tokens"] == 2
    for result in out["results"]:
        info = result["token_info"]
        assert info["thinking"] == {"tokens": 2, "closed": True}
        assert (info["answer_step"], info["first_word"], info["answer_scored"]) == (5, "yes", True)
        assert result["normalized_pred"] == 1  # "yes" is sst2's positive verbalizer under prompt 0
    assert out["summary"]["unclosed_thinking"] == 0 and out["summary"]["unscored_answers"] == 0
    assert out["summary"]["accuracy"] == 2 / 3
    # A budget of 1: every block outruns it; every example is unscored and counted.
    out = run_llm_inference.main([*argv, "--max_thinking_tokens", "1", "--save_path", str(tmp_path / "open")])
    assert out["summary"]["unclosed_thinking"] == 3 and out["summary"]["unscored_answers"] == 3
    assert all(r["token_info"]["thinking"] == {"tokens": 2, "closed": False} and r["token_info"]["answer_step"]
               is None for r in out["results"])
    # The budget is part of the run's identity: a run with another budget does not resume from these results.
    with pytest.raises(FuteError, match="max_thinking_tokens"):
        run_llm_inference.main([*argv, "--max_thinking_tokens", "3", "--save_path", str(tmp_path / "open")])


def test_a_template_that_opens_the_block_is_read_past_it(tmp_path, thinking_qwen3, monkeypatch):
    from llm_inference import backends
    from llm_inference.decoding import GreedyScorer
    from llm_inference.models import load_llm_model

    tokenizer = AutoTokenizer.from_pretrained(thinking_qwen3)
    hmm, end, newline, no = _ids(tokenizer, "hmm", END_THINK, "\n", "no")
    monkeypatch.setitem(backends.LOADERS, "transformers", lambda name, bit, device, tok: GreedyScorer(
        _steered(load_llm_model(name, bit, device), [hmm, end, newline, no]), tok))
    template = tmp_path / "opens.jinja"
    template.write_text(OPENS_THINKING)
    data = tmp_path / "sst2.jsonl"
    data.write_text(json.dumps({"sentence": "Dull.", "label": 0, "idx": 0}) + "\n")
    out = run_llm_inference.main(["--model", str(thinking_qwen3), "--dataset_name", "sst2", "--prompt_number", "0",
                                  "--bit", "32", "--device", "cpu", "--dataset_path", str(data), "--chat_template",
                                  str(template), "--max_thinking_tokens", "4", "--save_path", str(tmp_path / "out")])
    [result] = out["results"]
    assert result["input_prompt"].endswith("<|im_start|>assistant\n<think>\n")
    assert result["token_info"]["thinking"] == {"tokens": 1, "closed": True}
    assert (result["token_info"]["answer_step"], result["token_info"]["first_word"]) == (3, "no")
    assert result["normalized_pred"] == 0 and out["summary"]["accuracy"] == 1.0
