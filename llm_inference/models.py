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

Chat templates: each alias renders a chat format pinned in configs/chat_templates/ (the
paper's aliases that of the paper's runs, the current families their published one; a
warning says when the hub's template renders otherwise);
`--chat_template FILE` chooses any template for any model; other models use their
tokenizer's own. Every output records the template's source and the SHA-256 of its text.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from jinja2 import TemplateError

from configs.models import MODEL_ALIASES, PINNED_CHAT_TEMPLATES, looks_local
from data_utils.errors import FuteError
from llm_inference.options import check_precision, resolve_model
from llm_inference.prompts import takes_thinking_switch
from modeling.hf_compat import load_pretrained

logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "configs" / "chat_templates"
# Conversations rendered to tell two templates apart by what they produce, not by their text: the shapes the prompts
# take (a first turn with or without a system message, a chain-of-thought follow-up after the reasoning).
_PROBES = (
    [{"role": "user", "content": "U1"}],
    [{"role": "system", "content": "S"}, {"role": "user", "content": "U1"}],
    [{"role": "user", "content": "U1"}, {"role": "assistant", "content": "A1"}, {"role": "user", "content": "U2"}],
    [{"role": "system", "content": "S"}, {"role": "user", "content": "U1"}, {"role": "assistant", "content": "A1"},
     {"role": "user", "content": "U2"}],
)


@dataclass(frozen=True)
class ChatTemplate:
    """The chat template a run formats its prompts with, and where it came from."""

    text: str
    source: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def record(self) -> dict[str, str]:
        """Where it came from, its SHA-256, and "thinking": "off" for a template with a thinking switch, which is
        rendered with enable_thinking=False (llm_inference/prompts.py, `takes_thinking_switch`)."""
        thinking = {"thinking": "off"} if takes_thinking_switch(self.text) else {}
        return {"source": self.source, "sha256": self.sha256, **thinking}


def _renderings(tokenizer, template: str | None) -> list[str]:
    """What `template` makes of each probe conversation as the prompts are rendered, thinking off (an error counts as
    a rendering too): two Qwen3-style templates that differ only in their thinking-off generation prompt differ."""
    out = []
    for messages in _PROBES:
        try:
            out.append(tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                                     add_generation_prompt=True, enable_thinking=False))
        except (TemplateError, ValueError) as err:
            out.append(f"error: {type(err).__name__}")
    return out


def choose_chat_template(name: str, tokenizer, template_file: str | None = None) -> ChatTemplate:
    """Set the tokenizer's chat template for the run and return it with its source.

    `template_file` (--chat_template) wins; an alias gets its pinned template (with a warning
    when the downloaded one renders otherwise); any other model keeps its own.
    """
    if template_file is not None:
        chosen = ChatTemplate(Path(template_file).read_text(encoding="utf-8"), f"file {template_file}")
    elif name in PINNED_CHAT_TEMPLATES:
        path = TEMPLATE_DIR / PINNED_CHAT_TEMPLATES[name]
        chosen = ChatTemplate(path.read_text(encoding="utf-8"), f"configs/chat_templates/{path.name} (pinned for {name})")
        own = getattr(tokenizer, "chat_template", None)
        if own is not None and _renderings(tokenizer, own) != _renderings(tokenizer, chosen.text):
            logger.warning("the chat template that %s (%s) carries today renders prompts differently from the one "
                           "pinned for it: using the pinned one, configs/chat_templates/%s (pass --chat_template "
                           "FILE to use another)", name, MODEL_ALIASES[name], path.name)
    elif getattr(tokenizer, "chat_template", None) is not None:
        chosen = ChatTemplate(tokenizer.chat_template, f"the tokenizer of {name}")
    else:
        raise FuteError(f"the tokenizer of {name!r} has no chat template: the LLM prompts need a chat model "
                        "(an instruct/chat checkpoint), or pass one with --chat_template FILE")
    tokenizer.chat_template = chosen.text
    logger.info("chat template: %s (sha256 %s)", chosen.source, chosen.sha256[:12])
    return chosen


def load_chat_tokenizer(name: str, template_file: str | None = None):
    """(tokenizer, ChatTemplate) of `name`, its chat template chosen by `choose_chat_template`.

    A tokenizer without a pad token gets its end-of-sequence token as padding (as the
    original did); padded positions are always masked out, so the choice changes no score.
    """
    from transformers import AutoTokenizer

    source = resolve_model(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.name, gguf_file=source.gguf_file)
    except (OSError, ValueError) as err:
        raise _load_error(name, err) from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.name_or_path = name  # errors name the model as given (the .gguf file, not the folder it is in)
    return tokenizer, choose_chat_template(name, tokenizer, template_file)


def load_llm_model(name: str, bit: int, device: torch.device):
    """The model of `name` at `bit` precision on `device`, in eval mode."""
    from transformers import AutoModelForCausalLM

    source = check_precision(name, bit)
    kwargs = _precision_kwargs(bit, device)
    if device.type == "cuda":
        # "auto" spreads the layers over every visible GPU, so a 70B model fits where one GPU would not.
        kwargs["device_map"] = "auto" if device.index is None else {"": device.index}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    try:
        model = load_pretrained(AutoModelForCausalLM, source.name, new_head=False, **kwargs)
    except (OSError, ValueError) as err:
        raise _load_error(name, err) from None
    if device.type != "cuda" and bit in (16, 32):
        model.to(device)
    model.eval()
    model.name_or_path = name  # errors name the model as given, as its tokenizer's do
    logger.info("loaded %s (%s, %d-bit) on %s", name, model.config.model_type, bit, device)
    return model


def load_llm(name: str, bit: int, device: torch.device, template_file: str | None = None):
    """(model in eval mode, tokenizer) for `name` at `bit` precision on `device`."""
    check_precision(name, bit)
    tokenizer, _ = load_chat_tokenizer(name, template_file)
    return load_llm_model(name, bit, device), tokenizer


def _load_error(name: str, err: Exception) -> FuteError:
    if looks_local(name) and not Path(name).expanduser().exists():
        return FuteError(f"model folder {name} does not exist; pass an alias ({', '.join(MODEL_ALIASES)}), a hub id, "
                         f"an existing folder or a .gguf file")
    first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
    if name in MODEL_ALIASES:
        pinned = PINNED_CHAT_TEMPLATES.get(name)
        keep = f" with --chat_template configs/chat_templates/{pinned} to keep its format" if pinned else ""
        return FuteError(f"cannot load model {name!r} (the alias of {MODEL_ALIASES[name]}): {first_line}; without "
                         f"a network it must be in the Hugging Face cache (download it once, logged in where it is "
                         f"gated), or pass a local copy's folder{keep}")
    return FuteError(f"cannot load model {name!r}: it is not an alias ({', '.join(MODEL_ALIASES)}), "
                     f"and loading it as a hub id, local folder or .gguf file failed: {first_line}")


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
