"""The flags both LLM entry scripts share, and the checks on them, without importing torch.

The model, its precision and inference backend, batching, the CoT cap, the thinking budget, the chat template, the
verbalizer mode (`add_llm_args`, checked by `check_llm_args`), --prompt_number (`prompt_numbers`) and the
{dataset}/{prompt} placeholders of several runs in one command (`check_placeholders`, `fill`). Kept
apart from the modules that load and run the LLM, so that --help and a bad flag are answered
before torch loads.
"""
from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from configs.datasets import NUM_PROMPTS
from configs.models import BITS, hub_id
from data_utils import cli
from data_utils.artifacts.paths import DATASET_FIELD, PROMPT_FIELD
from data_utils.errors import FuteError

# The inference backends (llm_inference/backends.py).
BACKENDS = ("transformers", "llamacpp", "vllm")
VLLM_INSTALL = ("make setup-vllm (vLLM's CPU build in .venv-vllm; run the scripts with its python), or on GPUs pip "
                "install vllm into an environment of its own torch, then pip install -r requirements.txt there")


@dataclass(frozen=True)
class ModelSource:
    """Where the weights come from: `name` for from_pretrained, plus the file name of a GGUF model."""

    name: str
    gguf_file: str | None = None


def resolve_model(name: str) -> ModelSource:
    """An alias -> its hub id; a path ending in .gguf -> (its folder, its file name); else unchanged."""
    name = hub_id(name)
    if name.lower().endswith(".gguf"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise FuteError(f"GGUF file not found: {path}; give the path of an existing .gguf file")
        return ModelSource(str(path.parent), path.name)
    return ModelSource(name)


def check_precision(name: str, bit: int) -> ModelSource:
    """The model's source, once `bit` is known to suit it: a GGUF file cannot be quantized again."""
    if bit not in BITS:
        raise FuteError(f"--bit {bit} is not supported; use one of {', '.join(map(str, BITS))}")
    source = resolve_model(name)
    if source.gguf_file and bit in (4, 8):
        raise FuteError(f"{name} is a GGUF file, which is already quantized and is de-quantized on load; "
                        f"it cannot be quantized again with bitsandbytes: use --bit 32 or --bit 16")
    return source


def check_backend(name: str, bit: int, backend: str) -> ModelSource:
    """The model's source, once `backend` is known to read it: llama.cpp reads a .gguf file and computes with its
    own quantization, in float32 (--bit 32); vLLM reads a hub id or folder at --bit 16 or 32. The backend's own
    refusal comes first: it names the value it needs."""
    if backend not in BACKENDS:
        raise FuteError(f"--backend {backend} is unknown; use one of {', '.join(BACKENDS)}")
    source = resolve_model(name)
    if backend == "llamacpp":
        if source.gguf_file is None:
            raise FuteError(f"--backend llamacpp reads a .gguf file, and {name} is none: pass the path of a .gguf "
                            f"file as --model, or use --backend transformers")
        if bit != 32:
            raise FuteError(f"--backend llamacpp computes in float32 on the file's own quantized weights: pass --bit "
                            f"32 (--bit {bit} would only be recorded)")
    if backend == "vllm":
        if source.gguf_file is not None:
            raise FuteError(f"--backend vllm reads a hub id or folder here, and {name} is a .gguf file: use --backend "
                            f"llamacpp for it, or pass the model's hub id")
        if bit not in (16, 32):
            raise FuteError(f"--backend vllm loads float16 or float32 weights: pass --bit 16 or --bit 32 (--bit {bit} "
                            f"quantizes with bitsandbytes, which only --backend transformers does)")
    return check_precision(name, bit)


def add_llm_args(parser: argparse.ArgumentParser) -> None:
    """The flags both LLM entry scripts share: the model, its precision and backend, batching, CoT length, the
    verbalizer mode, --overwrite, seed, device."""
    parser.add_argument("--model", required=True,
                        help="an alias of configs/models.py (the paper's llama-13b, llama-70b, mixtral; current "
                             "families such as llama-3.1-8b, qwen3-8b, gemma-3-12b, mistral-7b-v0.3), or any chat "
                             "LM: hub id, local folder or .gguf file")
    parser.add_argument("--bit", type=int, default=8, choices=BITS,
                        help="weights: 4 or 8 (bitsandbytes), 16 (float16) or 32 (float32); a .gguf needs 16/32")
    parser.add_argument("--backend", choices=BACKENDS, default="transformers",
                        help="transformers (any model; a .gguf is de-quantized), llamacpp (a .gguf file as it is "
                             "quantized, with llama-cpp-python; --bit 32) or vllm (hub id or folder, --bit 16/32; "
                             "vLLM installed apart), which every result records")
    parser.add_argument("--batch_size", type=cli.positive_int, default=8,
                        help="examples per forward pass (halved automatically on out-of-memory)")
    parser.add_argument("--cot_max_new_tokens", type=cli.positive_int, default=None,
                        help="cap on the reasoning turn of CoT prompts 10-12 (default: configs/generation.json, 512)")
    parser.add_argument("--max_thinking_tokens", type=cli.nonnegative_int, default=None,
                        help="tokens a model that thinks anyway (DeepSeek-R1, QwQ, Qwen3-Thinking: <think>...</think>) "
                             "may write in a reasoning block before its answer, which is scored after the block; a "
                             "block left open leaves its example unscored (summary.unclosed_thinking). Default 0: "
                             "such a model's examples are all unscored. Templates with a thinking switch (Qwen3's, "
                             "the qwen3 aliases) are rendered with thinking off and need no budget")
    parser.add_argument("--chat_template", default=None,
                        help="a jinja chat template file to format the prompts with (default: an alias's pinned "
                             "template, configs/chat_templates/; the tokenizer's own for other models)")
    parser.add_argument("--verbalizer_tokens", choices=("single", "first"), default="single",
                        help="single: every verbalizer must be one token (the original); first: score a "
                             "multi-token verbalizer by its first token (for small vocabularies)")
    parser.add_argument("--overwrite", type=cli.str2bool, default=False,
                        help="discard each run's earlier results (a finished output, a partial log, y' lines) and "
                             "score every example again; without it a run continues or reuses them")
    cli.add_common_args(parser)


def check_llm_args(args: argparse.Namespace) -> None:
    """Refuse bad values of the flags of add_llm_args at parse time, before any model loads."""
    check_backend(args.model, args.bit, args.backend)
    if args.backend == "vllm" and find_spec("vllm") is None:
        raise FuteError(f"--backend vllm needs vLLM, which is installed apart: {VLLM_INSTALL}")
    if args.chat_template is not None and not Path(args.chat_template).is_file():
        raise FuteError(f"--chat_template {args.chat_template} is not a file; give a jinja chat template file")


def prompt_numbers(value: str) -> list[int]:
    """argparse type of --prompt_number: "3", "0,3,10", "0-12" or "0-2,10" -> the prompt numbers, in order."""
    numbers: list[int] = []
    for part in (piece.strip() for piece in value.split(",")):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if match is None:
            raise argparse.ArgumentTypeError(f"{value!r}: use a prompt number, a list (0,3,10) or a range (0-12)")
        numbers += range(int(match[1]), int(match[2] or match[1]) + 1)
    bad = [n for n in numbers if n >= NUM_PROMPTS]
    if bad or len(set(numbers)) != len(numbers) or not numbers:
        raise argparse.ArgumentTypeError(f"{value!r}: prompts are 0-{NUM_PROMPTS - 1}, each at most once")
    return numbers


def check_placeholders(flag: str, value: str | None, field: str, several: bool) -> None:
    """With several datasets (prompts), each run's file must be told apart: `value` must hold `field`."""
    if several and value is not None and field not in value:
        raise FuteError(f"{flag} {value} must contain {field} when several are given, so that each run writes "
                        f"its own file (e.g. ./result/{DATASET_FIELD}_p{PROMPT_FIELD}.json)")


def fill(template: str, dataset: str | None = None, prompt: int | None = None) -> str:
    """`template` with {dataset} and {prompt} replaced (nothing else: other braces stay)."""
    if dataset is not None:
        template = template.replace(DATASET_FIELD, dataset)
    return template if prompt is None else template.replace(PROMPT_FIELD, str(prompt))
