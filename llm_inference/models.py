"""Loading a chat LLM for inference: an alias, a hub id, a local folder or a .gguf file.

Precision (`--bit`):

| bit | how |
|---|---|
| 32 | float32 weights |
| 16 | float16 weights |
| 8  | bitsandbytes `BitsAndBytesConfig(load_in_8bit=True)`, the other weights float16 |
| 4  | bitsandbytes `BitsAndBytesConfig(load_in_4bit=True)` (float32 compute), the other weights float16 |

At 8 and 4 bit the weights bitsandbytes leaves alone (embeddings, norms, the LM
head) and the activations are float16, as the original got from transformers 4,
which forced float16 under bitsandbytes; transformers 5 would take the
checkpoint's dtype (bfloat16 for Mixtral-Instruct). The 4-bit matmuls compute in
float32, bitsandbytes' default, which the original used.

A GGUF file is already quantized; transformers de-quantizes it on load, so it can
only be loaded at 16 or 32 bit. On a GPU the weights are placed with
`device_map="auto"`, which shards a large model over every GPU that accelerate
sees. The Hugging Face token, for gated models such as Llama-2, comes from the
usual login (`huggingface-cli login`) or the `HF_TOKEN` variable: nothing here
reads a token file.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from configs.models import MODEL_ALIASES
from data_utils import cli
from data_utils.errors import FuteError
from data_utils.hf_compat import load_pretrained

logger = logging.getLogger(__name__)

BITS = (4, 8, 16, 32)


@dataclass(frozen=True)
class ModelSource:
    """Where the weights come from: `name` for from_pretrained, plus the file name of a GGUF model."""

    name: str
    gguf_file: str | None = None


def resolve_model(name: str) -> ModelSource:
    """An alias -> its hub id; a path ending in .gguf -> (its folder, its file name); else unchanged."""
    name = MODEL_ALIASES.get(name, name)
    if name.lower().endswith(".gguf"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise FuteError(f"GGUF file not found: {path}; give the path of an existing .gguf file")
        return ModelSource(str(path.parent), path.name)
    return ModelSource(name)


def load_llm(name: str, bit: int, device: torch.device):
    """(model in eval mode, tokenizer) for `name` at `bit` precision on `device`.

    A tokenizer without a pad token gets its end-of-sequence token as padding (as
    the original did); padded positions are always masked out, so the choice does
    not change any score.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if bit not in BITS:
        raise FuteError(f"--bit {bit} is not supported; use one of {', '.join(map(str, BITS))}")
    source = resolve_model(name)
    if source.gguf_file and bit in (4, 8):
        raise FuteError(f"{name} is a GGUF file, which is already quantized and is de-quantized on load; "
                        f"it cannot be quantized again with bitsandbytes: use --bit 32 or --bit 16")
    kwargs = _precision_kwargs(bit, device)
    if device.type == "cuda":
        # "auto" spreads the layers over every visible GPU, so a 70B model fits where one GPU would not.
        kwargs["device_map"] = "auto" if device.index is None else {"": device.index}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.name, gguf_file=source.gguf_file)
        model = load_pretrained(AutoModelForCausalLM, source.name, **kwargs)
    except (OSError, ValueError) as err:
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise FuteError(f"cannot load model {name!r}: it is not an alias ({', '.join(MODEL_ALIASES)}), "
                        f"and loading it as a hub id, local folder or .gguf file failed: {first_line}") from None
    if device.type != "cuda" and bit in (16, 32):
        model.to(device)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    logger.info("loaded %s (%s, %d-bit) on %s", name, model.config.model_type, bit, device)
    return model, tokenizer


def _precision_kwargs(bit: int, device: torch.device) -> dict:
    if bit == 32:
        return {"dtype": torch.float32}
    if bit == 16:
        return {"dtype": torch.float16}
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_8bit=True) if bit == 8 else BitsAndBytesConfig(load_in_4bit=True)
    kwargs: dict = {"quantization_config": config, "dtype": torch.float16}
    if device.type != "cuda":
        # bitsandbytes places the weights itself when it quantizes; on CPU it must be told where.
        kwargs["device_map"] = "cpu"
    return kwargs


def add_llm_args(parser) -> None:
    """The flags both LLM entry scripts share: the model, its precision, batching, CoT length, seed, device."""
    parser.add_argument("--model", required=True,
                        help="llama-13b, llama-70b, mixtral, or any chat LM: hub id, local folder or .gguf file")
    parser.add_argument("--bit", type=int, default=8, choices=BITS,
                        help="weights: 4 or 8 (bitsandbytes), 16 (float16) or 32 (float32); a .gguf needs 16/32")
    parser.add_argument("--batch_size", type=int, default=8,
                        help="examples per forward pass (halved automatically on out-of-memory)")
    parser.add_argument("--cot_max_new_tokens", type=int, default=None,
                        help="cap on the reasoning turn of CoT prompts 10-12 (default: configs/generation.json, 512)")
    parser.add_argument("--verbalizer_tokens", choices=("single", "first"), default="single",
                        help="single: every verbalizer must be one token (the original); first: score a "
                             "multi-token verbalizer by its first token (for small vocabularies)")
    cli.add_common_args(parser)


def check_llm_args(args) -> None:
    """Refuse bad values of the flags of add_llm_args at parse time, before any model loads."""
    if args.batch_size < 1:
        raise FuteError(f"--batch_size must be at least 1, got {args.batch_size}")
    if args.cot_max_new_tokens is not None and args.cot_max_new_tokens < 1:
        raise FuteError(f"--cot_max_new_tokens must be at least 1, got {args.cot_max_new_tokens}")


def unpack_gguf(gguf: str, folder: str | Path) -> str:
    """Save a GGUF model once as an ordinary float32 checkpoint folder; return the folder.

    Loading a GGUF file dequantizes every tensor (20-30 s for SmolLM2 on a CPU), so a
    pipeline that loads the same LLM many times loads it from this folder instead.
    transformers refuses to save a model loaded from GGUF ("not serializable"),
    although its weights are plain float32 once loaded: they go into a fresh model
    built from the config without its GGUF quantization_config, which is saved.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    if (folder / "config.json").is_file():
        return str(folder)
    source = resolve_model(gguf)
    if source.gguf_file is None:
        raise FuteError(f"{gguf} is not a .gguf file")
    logger.info("unpacking %s into %s (once)", gguf, folder)
    tokenizer = AutoTokenizer.from_pretrained(source.name, gguf_file=source.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(source.name, gguf_file=source.gguf_file, dtype=torch.float32)
    config = model.config.to_dict()
    config.pop("quantization_config", None)
    plain = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config), dtype=torch.float32)
    plain.load_state_dict(model.state_dict())
    plain.generation_config = model.generation_config
    plain.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)
