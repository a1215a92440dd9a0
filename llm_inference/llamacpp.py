"""The llama.cpp backend: greedy decoding with llama-cpp-python, reading a GGUF file as it is quantized.

The transformers backend de-quantizes a GGUF file to float32 on load (20-30 s for SmolLM2-135M on a CPU) and
then runs float32 matmuls; llama.cpp keeps the stored quantization (Q4_1, Q8_0, ...) and runs its own kernels,
which is how researchers serve GGUF models. What this backend shares with the transformers one
(llm_inference/decoding.py) is everything but the logits:

- the prompts are formatted by the same chat template and tokenized by the same HF tokenizer (read from the GGUF
  file), so both backends see the same token ids and score the same verbalizer ids;
- the logits processors (repetition penalty, no-repeat n-gram, min new tokens), the answer step and the
  verbalizer scores come from `decoding.Turn`, applied to llama.cpp's raw next-token logits;
- the prompt perplexity is `decoding.prompt_perplexity` of the prompt's logits rows.

So what differs between the two backends is the logits themselves. The weights are the same numbers (the
transformers backend de-quantizes them exactly), but llama.cpp multiplies quantized weights with activations it
quantizes to 8 bits, where transformers multiplies in float32: on SmolLM2's Q4_1 file the verbalizer scores differ
by up to about 0.8 and a near tie can turn (benchmarks/README.md; tests/test_llamacpp.py checks the bounds).

Examples are decoded one at a time (llama.cpp's batch holds one sequence here), and the key/value cache of the
longest prefix an example shares with the one before (the chat template's system turn and the instruction) is
kept: only the rest of its prompt is evaluated.
"""
from __future__ import annotations

import atexit
import weakref
from collections.abc import Sequence

import numpy as np
import torch

from data_utils.errors import FuteError
from llm_inference.decoding import Decoder, GenerationSettings, Turn, TurnResult, prompt_perplexity

# The context llama.cpp allocates: the longest turn (a CoT follow-up holds the prompt and up to 512 reasoning
# tokens, ~1.5k tokens) with room to spare. With every position's logits kept (for the perplexity), the logits
# buffer is this many rows of the vocabulary: 4096 x 49,152 floats (805 MB) for SmolLM2.
MAX_CONTEXT = 4096

INSTALL = "pip install 'llama-cpp-python>=0.3.36,<0.4' (it compiles llama.cpp: a C++ compiler and cmake)"


def load_llama(gguf_path: str, threads: int | None = None, gpu: bool = False):
    """llama_cpp.Llama of a .gguf file: context min(the model's, MAX_CONTEXT), every position's logits kept,
    `threads` CPU threads (default: torch's), every layer on the GPU with `gpu`, no log on stderr."""
    try:
        import llama_cpp
    except ImportError:
        raise FuteError(f"--backend llamacpp needs llama-cpp-python: {INSTALL}") from None
    if gpu and not llama_cpp.llama_supports_gpu_offload():
        raise FuteError("this llama-cpp-python was built without GPU support: reinstall it with "
                        "CMAKE_ARGS='-DGGML_CUDA=on' pip install --force-reinstall --no-cache-dir llama-cpp-python, "
                        "or run on the CPU (--device cpu)")
    threads = threads or torch.get_num_threads()
    context = min(trained_context(gguf_path) or MAX_CONTEXT, MAX_CONTEXT)
    llama = llama_cpp.Llama(model_path=gguf_path, n_ctx=context, n_batch=512, logits_all=True, n_threads=threads,
                            n_threads_batch=threads, n_gpu_layers=-1 if gpu else 0, verbose=False)
    # Freed before the interpreter tears its modules down: llama-cpp-python's own finalizer, run later, fails then.
    alive = weakref.ref(llama)
    atexit.register(lambda: alive() is not None and alive().close())
    return llama


class LlamaCppDecoder(Decoder):
    """Greedy decoding of token-id prompts with a llama_cpp.Llama (see the module docstring)."""

    def __init__(self, llama, tokenizer, model_name: str):
        super().__init__(tokenizer, _eos_ids(llama, tokenizer), int(llama.n_ctx()), model_name,
                         positions_from="llama.cpp context")
        self.llama = llama
        self._prompt_tokens = 0  # the held context's first tokens that were evaluated as a prompt
        vocab = int(llama.n_vocab())
        if vocab < len(tokenizer):
            raise FuteError(f"{model_name}: llama.cpp reads a vocabulary of {vocab} tokens but its tokenizer has "
                            f"{len(tokenizer)}; the GGUF file and the tokenizer do not belong together")

    def run(self, prompts: Sequence[Sequence[int]], settings: GenerationSettings, score_ids: Sequence[int] | None,
            with_ppl: bool) -> list[TurnResult]:
        return [self._decode(list(prompt), settings, score_ids, with_ppl) for prompt in prompts]

    def _decode(self, prompt: list[int], settings: GenerationSettings, score_ids: Sequence[int] | None,
                with_ppl: bool) -> TurnResult:
        self.check_positions(len(prompt), settings)
        self.prefill(prompt)
        ppl = prompt_perplexity(torch.from_numpy(self.llama.scores[:len(prompt)]), prompt) if with_ppl else None
        turn = Turn(self, settings, score_ids, prompt)
        for step in range(turn.max_steps):
            token = turn.advance(self._last_logits(), step)
            if turn.done:
                break
            self.check_positions(self.llama.n_tokens + 1, settings)
            self.llama.eval([token])
        return turn.result(ppl)

    def prefill(self, prompt: list[int]) -> None:
        """Evaluate `prompt`, keeping the cache of the prefix it shares with what the context holds.

        At least its last two tokens are evaluated again: llama.cpp computes a batch of one token with other
        kernels than a batch of several, whose logits differ (by up to 0.56 on SmolLM2's Q4_1), so a prompt whose
        last token alone were evaluated would score otherwise than the same prompt after another one. Evaluated
        in batches of two or more, a prompt's logits are the same whatever the context held (tested). For the same
        reason only the cache of an earlier prompt is kept, never that of tokens generated one at a time after it."""
        held = self.llama.input_ids[:min(self._prompt_tokens, self.llama.n_tokens)]  # nothing after a reset()
        shared = 0
        limit = min(len(held), len(prompt) - 2)
        while shared < limit and held[shared] == prompt[shared]:
            shared += 1
        self.llama.n_tokens = shared  # eval() drops the cache past n_tokens before it evaluates
        self.llama.eval(prompt[shared:])
        self._prompt_tokens = len(prompt)

    def _last_logits(self) -> torch.Tensor:
        """The raw next-token logits [V] (float32) after the last evaluated token."""
        return torch.from_numpy(np.array(self.llama.scores[self.llama.n_tokens - 1], dtype=np.float32))


def trained_context(gguf_path: str) -> int | None:
    """The context length the model was trained with (GGUF key `<architecture>.context_length`), None if absent."""
    from gguf import GGUFReader

    fields = GGUFReader(gguf_path).fields
    architecture = fields.get("general.architecture")
    if architecture is None:
        return None
    name = bytes(architecture.parts[architecture.data[0]]).decode("utf-8")
    length = fields.get(f"{name}.context_length")
    return None if length is None else int(length.parts[length.data[0]][0])


def _eos_ids(llama, tokenizer) -> list[int]:
    """The end-of-sequence ids: the GGUF file's (what llama.cpp stops at) and the tokenizer's."""
    return sorted({int(llama.token_eos()), tokenizer.eos_token_id} - {None, -1})
