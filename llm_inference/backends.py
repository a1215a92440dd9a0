"""Inference backends: what turns chat-formatted token ids into the verbalizer scores at the answer step, the
generated reasoning and the prompt perplexity, behind one interface (`decoding.Decoder.run`).

| --backend | reads | decoder |
|---|---|---|
| transformers | an alias, hub id, folder or .gguf file (de-quantized), at --bit | decoding.GreedyScorer: batched |
| llamacpp | a .gguf file, run as it is quantized (llama-cpp-python) | llamacpp.LlamaCppDecoder: one example at a time |
| vllm | an alias, hub id or folder, at --bit 16 or 32 (vLLM, installed apart) | vllm_backend.VllmDecoder: vLLM's batches |

Every backend formats prompts with the same chat template and tokenizes them with the same HF tokenizer, and
reads its answers through `decoding.Turn`: only the logits come from the backend (vLLM: its greedy tokens, then
the verbalizers' scores up to one constant per example; llm_inference/vllm_backend.py). The backend is part of a run's
identity (other than transformers, whose results were written before there was a choice), so a run never
resumes across backends.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from llm_inference.decoding import Decoder, GreedyScorer
from llm_inference.models import load_llm_model
from llm_inference.options import BACKENDS, resolve_model


def _transformers(name: str, bit: int, device: torch.device, tokenizer) -> Decoder:
    return GreedyScorer(load_llm_model(name, bit, device), tokenizer)


def _llamacpp(name: str, bit: int, device: torch.device, tokenizer) -> Decoder:
    from llm_inference.llamacpp import LlamaCppDecoder, load_llama

    source = resolve_model(name)
    return LlamaCppDecoder(load_llama(f"{source.name}/{source.gguf_file}", gpu=device.type == "cuda"), tokenizer, name)


def _vllm(name: str, bit: int, device: torch.device, tokenizer) -> Decoder:
    from llm_inference.vllm_backend import VllmDecoder, load_vllm

    return VllmDecoder(load_vllm(resolve_model(name).name, bit, gpu=device.type == "cuda"), tokenizer, name)


LOADERS: dict[str, Callable[[str, int, torch.device, object], Decoder]] = {
    "transformers": _transformers,
    "llamacpp": _llamacpp,
    "vllm": _vllm,
}
assert set(LOADERS) == set(BACKENDS)


def load_decoder(backend: str, name: str, bit: int, device: torch.device, tokenizer) -> Decoder:
    """The decoder of `backend` for the model `name` (checked by options.check_backend), on `device`."""
    return LOADERS[backend](name, bit, device, tokenizer)
