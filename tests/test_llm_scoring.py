"""LLM scoring on the tiny Llama and Mixtral: verbalizer scores and perplexity against a hand-written
greedy loop (plain forward of the whole sequence, penalties by hand), batching, CoT, OOM fallback."""
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from data_utils.errors import FuteError
from llm_inference.models import load_llm, resolve_model
from configs.datasets import GENRES
from llm_inference.prompts import NUM_PROMPTS, apply_chat_template, cot_followup_message, load_prompt
from llm_inference.scoring import (
    GenerationSettings,
    PromptScorer,
    generation_settings,
    iter_batches,
    label_distribution,
)

SA = [
    {"text": "The movie was good and I would watch it again."},
    {"text": "Boring."},
    {"text": "The acting was terrible and the script was even worse, and nothing in this movie makes sense."},
]
NLI = [
    {"premise": "A man is playing a guitar on the street.", "hypothesis": "A person is making music outside."},
    {"premise": "The woman is sleeping.", "hypothesis": "She has never been to France."},
]
PENALTY, NGRAM = 1.2, 3


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def load(path):
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


# ----------------------------------------------------------------------------- the reference, by hand

@torch.no_grad()
def reference_step(model, ids, step, eos_id):
    """Processed next-token scores after `ids`: plain forward, repetition penalty and 3-gram ban by hand."""
    scores = model(torch.tensor([ids])).logits[0, -1].double().clone()
    for token in set(ids):
        scores[token] = scores[token] * PENALTY if scores[token] < 0 else scores[token] / PENALTY
    for i in range(len(ids) - NGRAM + 1):
        if ids[i:i + NGRAM - 1] == ids[len(ids) - NGRAM + 1:]:
            scores[ids[i + NGRAM - 1]] = -math.inf
    if step == 0:  # min_new_tokens 1
        scores[eos_id] = -math.inf
    return scores


def reference_answer(model, tokenizer, ids, verbalizer_ids, max_new=5):
    """(answer step, verbalizer scores there): greedy by hand until the first non-blank token."""
    ids = list(ids)
    for step in range(max_new):
        scores = reference_step(model, ids, step, tokenizer.eos_token_id)
        token = int(scores.argmax())
        if tokenizer.decode([token]).strip():
            return step, scores[verbalizer_ids].tolist()
        ids.append(token)
    raise AssertionError("no answer")


@torch.no_grad()
def reference_ppl(model, ids):
    log_probs = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), dim=-1)
    nll = [-log_probs[t - 1, ids[t]].item() for t in range(1, len(ids))]
    return math.exp(sum(nll) / len(nll))


def encode(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def flat_ids(tokenizer, prompt):
    return [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(w))[0] for w in prompt.verbalizer_list]


# ----------------------------------------------------------------------------- tests

def test_every_prompt_has_single_token_verbalizers_on_the_tiny_llms(tiny_llama, tiny_mixtral):
    for path in (tiny_llama, tiny_mixtral):
        model, tokenizer = load(path)
        for genre in GENRES:
            for number in range(NUM_PROMPTS):
                prompt = load_prompt(genre, number)
                scorer = PromptScorer(model, tokenizer, prompt)
                assert len(scorer.verbalizer_ids) == len(prompt.verbalizer_list)
                assert [tokenizer.decode([i]) for i in scorer.verbalizer_ids] == list(prompt.verbalizer_list)


@pytest.mark.parametrize("blank_first", [False, True])
def test_scores_and_ppl_match_a_plain_forward(tiny_llama, blank_first):
    model, tokenizer = load(tiny_llama)
    blank, close = tokenizer.convert_tokens_to_ids("<0x0A>"), tokenizer.convert_tokens_to_ids("]")
    if blank_first:
        # A model whose greedy token right after "... [/INST]" is a newline (blank): the boost depends only on
        # the last input token, so the cached loop and the plain forward below see the same model.
        def boost(module, args, kwargs, output):
            ids = kwargs["input_ids"] if "input_ids" in kwargs else args[0]
            rows = ids[:, -1] == close
            output.logits[rows, -1, blank] += 50.0
        model.register_forward_hook(boost, with_kwargs=True)
    prompt = load_prompt("sa", 0)
    scorer = PromptScorer(model, tokenizer, prompt)
    [result] = scorer.score([SA[0]])
    ids = encode(tokenizer, scorer.first_turn(SA[0])[1])
    step, expected = reference_answer(model, tokenizer, ids, flat_ids(tokenizer, prompt))
    assert (step >= 1) if blank_first else (step == 0)
    assert result.answer_step == step
    np.testing.assert_allclose(result.word_scores, expected, atol=1e-4)
    assert result.prompt_ppl == pytest.approx(reference_ppl(model, ids), rel=1e-4)
    assert result.verbalizers == ["yes", "Yes", "no", "No"]


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_logits_are_an_error_not_a_score(tiny_llama, bad):
    model, tokenizer = load(tiny_llama)
    scorer = PromptScorer(model, tokenizer, load_prompt("sa", 0))
    [fine] = scorer.score([SA[0]])
    assert all(math.isfinite(score) for score in fine.word_scores)

    def overflow(module, args, kwargs, output):
        output.logits[..., scorer.verbalizer_ids[1]] = bad

    model.register_forward_hook(overflow, with_kwargs=True)
    with pytest.raises(FuteError, match=r"scores hold (NaN|\+inf).*try --bit 32"):
        scorer.score([SA[0]])


@pytest.mark.parametrize("which", ["llama", "mixtral"])
def test_batched_equals_one_at_a_time(tiny_llama, tiny_mixtral, which):
    model, tokenizer = load({"llama": tiny_llama, "mixtral": tiny_mixtral}[which])
    for genre, examples in (("sa", SA), ("nli", NLI)):
        scorer = PromptScorer(model, tokenizer, load_prompt(genre, 4))
        batched = scorer.score(examples)
        single = [scorer.score([example])[0] for example in examples]
        for b, s in zip(batched, single):
            np.testing.assert_allclose(b.word_scores, s.word_scores, atol=1e-3)
            assert b.prompt_ppl == pytest.approx(s.prompt_ppl, rel=1e-3)
            assert np.argmax(b.word_scores) == np.argmax(s.word_scores)
            assert b.answer_step == s.answer_step


@pytest.mark.parametrize("which", ["llama", "mixtral"])
def test_batched_rows_that_answer_at_different_steps(tiny_llama, tiny_mixtral, which):
    """A row that answers at step 0 is then fed padding while the other row goes on through blank steps."""
    model, tokenizer = load({"llama": tiny_llama, "mixtral": tiny_mixtral}[which])
    newline = tokenizer.convert_tokens_to_ids("<0x0A>")
    scorer = PromptScorer(model, tokenizer, load_prompt("sa", 4))
    examples = [{"text": "Boring."}, {"text": "The acting was terrible and the script was even worse. " * 4}]
    short = min(len(encode(tokenizer, scorer.first_turn(example)[1])) for example in examples)

    # Positions count real tokens, so the boost hits the same steps batched or alone: the short prompt's
    # last token and its next two (three blank steps), never the long prompt. The plain forward of
    # reference_answer passes no positions: they are 0..L-1 there.
    def blank_early(module, args, kwargs, output):
        positions = kwargs.get("position_ids")
        if positions is None:
            positions = torch.arange((kwargs["input_ids"] if "input_ids" in kwargs else args[0]).shape[1])[None]
        rows = positions[:, -1] < short + 2
        output.logits[rows, -1, newline] += 100.0
    model.register_forward_hook(blank_early, with_kwargs=True)
    batched = scorer.score(examples)
    single = [scorer.score([example])[0] for example in examples]
    assert [b.answer_step for b in batched] == [s.answer_step for s in single] == [3, 0]
    for b, s in zip(batched, single):
        np.testing.assert_allclose(b.word_scores, s.word_scores, atol=1e-4)
        assert b.prompt_ppl == pytest.approx(s.prompt_ppl, rel=1e-4)
        assert b.answer == s.answer
    # The short row by hand: no penalties matter for the verbalizers, whose scores are read at step 3.
    ids = encode(tokenizer, batched[0].input_prompt)
    step, expected = reference_answer(model, tokenizer, ids, flat_ids(tokenizer, load_prompt("sa", 4)))
    assert step == 3
    np.testing.assert_allclose(batched[0].word_scores, expected, atol=1e-4)


def test_all_blank_steps_fall_back_to_step_zero(tiny_llama, caplog):
    model, tokenizer = load(tiny_llama)
    newline = tokenizer.convert_tokens_to_ids("<0x0A>")
    def always_blank(module, args, kwargs, output):
        output.logits[:, -1, newline] += 1000.0
    model.register_forward_hook(always_blank, with_kwargs=True)
    prompt = load_prompt("sa", 0)
    # No penalties, so the boosted newline wins all five steps (a 3-gram ban would break the run of newlines).
    settings = {"vanilla": GenerationSettings(5, 1, 1.0, 0), "cot": GenerationSettings(5, 1, 1.0, 0)}
    scorer = PromptScorer(model, tokenizer, prompt, settings)
    with caplog.at_level("WARNING", logger="llm_inference.scoring"):
        [result] = scorer.score([{"text": "ok"}])
    assert result.answer_step is None
    assert result.answer == tokenizer.decode([newline] * 5)
    assert (result.first_word, result.first_word_is_verbalizer) == ("", False)  # no answer is no verbalizer
    assert sum("no non-blank token in 5 generated steps" in r.getMessage() for r in caplog.records) == 1
    with torch.no_grad():
        logits = model(torch.tensor([encode(tokenizer, result.input_prompt)])).logits[0, -1]
    np.testing.assert_allclose(result.word_scores, logits[flat_ids(tokenizer, prompt)].tolist(), atol=1e-4)


def answer_with(model, token_id: int) -> None:
    """Make `token_id` the model's greedy token at every step (not blank: the answer step is 0)."""
    def boost(module, args, kwargs, output):
        output.logits[:, -1, token_id] += 100.0
    model.register_forward_hook(boost, with_kwargs=True)


@pytest.mark.parametrize("which", ["llama", "mixtral"])
@pytest.mark.parametrize("piece, word, verbalizer",
                         [("▁The", "The", False), ('"', '"', False), ("▁Yes", "Yes", True)])
def test_each_example_says_whether_its_first_word_is_a_verbalizer(tiny_llama, tiny_mixtral, which, piece, word,
                                                                  verbalizer):
    """SmolLM2 answered "The" to every example: its scores were read at "The", not at an answer."""
    model, tokenizer = load({"llama": tiny_llama, "mixtral": tiny_mixtral}[which])
    answer_with(model, tokenizer.convert_tokens_to_ids(piece))
    [result] = PromptScorer(model, tokenizer, load_prompt("sa", 0)).score([SA[0]])  # yes, Yes, no, No
    assert (result.answer_step, result.answer.strip(), result.first_word) == (0, word, word)
    assert result.first_word_is_verbalizer is verbalizer
    assert result.answer_scored  # its own meaning: a verbalizer written under an unscored id


def test_the_first_piece_of_a_verbalizer_split_into_tokens_is_its_answer(tiny_llama):
    """--verbalizer_tokens first scores "filmy" (the tiny vocabulary's "▁film" "y") at "▁film", the one token a
    scoring turn writes: "film" is that verbalizer's answer there, "The" is none."""
    model, tokenizer = load(tiny_llama)
    prompt = replace(load_prompt("sa", 0), verbalizers={"positive": ("filmy",), "negative": ("no",)})
    with pytest.raises(FuteError, match="'filmy' .* not one token"):
        PromptScorer(model, tokenizer, prompt)
    for piece, verbalizer in (("▁film", True), ("▁The", False)):
        steered, _ = load(tiny_llama)
        answer_with(steered, tokenizer.convert_tokens_to_ids(piece))
        [result] = PromptScorer(steered, tokenizer, prompt, verbalizer_tokens="first").score([SA[1]])
        assert (result.first_word, result.first_word_is_verbalizer) == (piece[1:], verbalizer)


def test_only_the_last_logits_are_computed_without_perplexity(tiny_llama):
    model, tokenizer = load(tiny_llama)
    widths = []
    model.register_forward_hook(lambda module, args, kwargs, output: widths.append(output.logits.shape[1]),
                                with_kwargs=True)
    scorer = PromptScorer(model, tokenizer, load_prompt("sa", 0))
    prompts = [encode(tokenizer, scorer.first_turn(example)[1]) for example in SA[:2]]
    scorer.greedy.run(prompts, GenerationSettings(2, 1, 1.2, 3), None, with_ppl=False)
    assert widths[0] == 1
    widths.clear()
    scorer.greedy.run(prompts, GenerationSettings(2, 1, 1.2, 3), None, with_ppl=True)
    assert widths[0] == max(len(p) for p in prompts)


@pytest.mark.parametrize("which", ["llama", "mixtral"])
def test_cot_runs_two_turns_and_keeps_the_history(tiny_llama, tiny_mixtral, which):
    model, tokenizer = load({"llama": tiny_llama, "mixtral": tiny_mixtral}[which])
    prompt = load_prompt("nli", 11)
    scorer = PromptScorer(model, tokenizer, prompt, generation_settings(cot_max_new_tokens=6))
    [result] = scorer.score(NLI[:1])
    history = result.chat_history
    # Exactly the messages the model was given: Mixtral's template has no system role.
    roles = ["user", "assistant", "user", "assistant"]
    assert [m["role"] for m in history] == (["system", *roles] if which == "llama" else roles)
    assert history[-2]["content"] == cot_followup_message(prompt)
    assert apply_chat_template(tokenizer, history[:-3]) == result.input_prompt
    # Turn 1: six greedy reasoning tokens, by hand.
    first = encode(tokenizer, result.input_prompt)
    ids = list(first)
    for step in range(6):
        ids.append(int(reference_step(model, ids, step, tokenizer.eos_token_id).argmax()))
    assert history[-3]["content"] == tokenizer.decode(ids[len(first):], skip_special_tokens=True).strip()
    # Turn 2 is scored; the perplexity is the first prompt's.
    second = encode(tokenizer, apply_chat_template(tokenizer, history[:-1]))
    step, expected = reference_answer(model, tokenizer, second, flat_ids(tokenizer, prompt))
    assert result.answer_step == step
    np.testing.assert_allclose(result.word_scores, expected, atol=1e-4)
    assert result.prompt_ppl == pytest.approx(reference_ppl(model, first), rel=1e-4)
    # The first word is the scored turn's (its answer), judged against the prompt's verbalizers.
    assert result.first_word == (result.answer.split() or [""])[0]
    assert result.first_word_is_verbalizer == (result.first_word.lower() in prompt.verbalizer_list)
    system_in_prompt = "You are a helpful assistant." in result.input_prompt
    assert system_in_prompt == (which == "llama")  # Mixtral's template has no system role


def test_label_distribution_takes_the_max_without_a_floor_at_zero():
    prompt = load_prompt("sa", 0)  # verbalizers yes, Yes (positive), no, No (negative)
    out = label_distribution([-3.0, -1.0, -2.0, -5.0], prompt)
    assert out["label_scores"] == [-2.0, -1.0]  # genre order: negative, positive
    e = math.e
    assert out["normalized_prob"] == pytest.approx([1 / (1 + e), e / (1 + e)])
    assert out["normalized_pred"] == 1
    nli = label_distribution([0.1, 0.2, 0.9, 0.3, 0.5, 0.4], load_prompt("nli", 0))  # yes Yes maybe Maybe no No
    assert nli["normalized_pred"] == 1 and nli["label_scores"] == [0.2, 0.9, 0.5]


def test_out_of_memory_halves_the_batch():
    sizes = []

    def fn(chunk):
        sizes.append(len(chunk))
        if len(chunk) > 2:
            raise torch.OutOfMemoryError("fake")
        return [x * 10 for x in chunk]

    out = list(iter_batches(list(range(7)), 8, fn))
    assert [x for _, scores in out for x in scores] == [x * 10 for x in range(7)]
    assert sizes == [7, 4, 2, 2, 2, 1]
    with pytest.raises(torch.OutOfMemoryError):
        list(iter_batches([1], 1, lambda chunk: (_ for _ in ()).throw(torch.OutOfMemoryError("x"))))


def test_model_loading_errors(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"")
    assert resolve_model(str(fake)).gguf_file == "model.gguf"
    with pytest.raises(FuteError, match="cannot be quantized again"):
        load_llm(str(fake), 8, torch.device("cpu"))
    with pytest.raises(FuteError, match="not found"):
        resolve_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(FuteError, match="not an alias .*llama-13b"):
        load_llm("llama-7b", 32, torch.device("cpu"))
    # An alias the hub cannot give (offline here) is named as the alias it is, with the way out.
    with pytest.raises(FuteError, match=r"cannot load model 'qwen3-8b' \(the alias of Qwen/Qwen3-8B\): .*Hugging "
                                        r"Face cache .*--chat_template configs/chat_templates/qwen3.jinja"):
        load_llm("qwen3-8b", 16, torch.device("cpu"))
    with pytest.raises(ValueError, match="reasoning cap must be at least 1 token"):
        generation_settings(0)


def test_settings_come_from_the_config():
    settings = generation_settings()
    assert settings["vanilla"] == GenerationSettings(5, 1, 1.2, 3)
    assert settings["cot"] == GenerationSettings(512, 1, 1.2, 3)
