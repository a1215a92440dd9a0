"""Model aliases: short names used in the paper's commands -> Hugging Face ids.

Anything that is not an alias is passed to `from_pretrained` unchanged: a hub id,
a local folder, or (for LLMs) a `.gguf` file. `hub_id` and `alias_of` are the one
place an alias is resolved; the loaders add what is theirs (checkpoint folders,
GGUF files) on top.
"""

MODEL_ALIASES: dict[str, str] = {
    # The paper's LLMs.
    "llama-13b": "meta-llama/Llama-2-13b-chat-hf",
    "llama-70b": "meta-llama/Llama-2-70b-chat-hf",
    "mixtral": "mistralai/Mixtral-8x7B-Instruct-v0.1",
    # Current chat families.
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B-Instruct",
    "llama-3.1-70b": "meta-llama/Llama-3.1-70B-Instruct",
    "llama-3.3-70b": "meta-llama/Llama-3.3-70B-Instruct",
    "qwen2.5-7b": "Qwen/Qwen2.5-7B-Instruct",
    "qwen2.5-72b": "Qwen/Qwen2.5-72B-Instruct",
    "qwen3-8b": "Qwen/Qwen3-8B",
    "qwen3-32b": "Qwen/Qwen3-32B",
    "gemma-2-9b": "google/gemma-2-9b-it",
    "gemma-2-27b": "google/gemma-2-27b-it",
    "gemma-3-12b": "google/gemma-3-12b-it",
    "gemma-3-27b": "google/gemma-3-27b-it",
    "mistral-7b-v0.3": "mistralai/Mistral-7B-Instruct-v0.3",
}

# LLM weight widths --bit takes: 4 and 8 through bitsandbytes, 16 and 32 as dtypes.
BITS: tuple[int, ...] = (4, 8, 16, 32)

# The chat format each alias renders, pinned (files in configs/chat_templates/, written for this project; each
# file's header says what it renders and from where): the hub's templates change (Mixtral-8x7B-Instruct-v0.1's now
# takes a system message), and an alias must keep rendering the prompts its results were measured with: the paper's
# aliases the format of the paper's runs, the current families their published format as of this writing.
PINNED_CHAT_TEMPLATES: dict[str, str] = {
    "llama-13b": "llama-2-chat.jinja",
    "llama-70b": "llama-2-chat.jinja",
    "mixtral": "mixtral-8x7b-instruct-v0.1-2023-12.jinja",
    "llama-3.1-8b": "llama-3.1-instruct.jinja",
    "llama-3.1-70b": "llama-3.1-instruct.jinja",
    "llama-3.3-70b": "llama-3.1-instruct.jinja",
    "qwen2.5-7b": "qwen2.5-instruct.jinja",
    "qwen2.5-72b": "qwen2.5-instruct.jinja",
    "qwen3-8b": "qwen3.jinja",
    "qwen3-32b": "qwen3.jinja",
    "gemma-2-9b": "gemma-2-it.jinja",
    "gemma-2-27b": "gemma-2-it.jinja",
    "gemma-3-12b": "gemma-3-it.jinja",
    "gemma-3-27b": "gemma-3-it.jinja",
    "mistral-7b-v0.3": "mistral-7b-instruct-v0.3.jinja",
}


def hub_id(name: str) -> str:
    """The hub id of an alias; any other name (hub id, folder, file) unchanged."""
    return MODEL_ALIASES.get(name, name)


def alias_of(name: str) -> str:
    """The alias of a hub id (or the alias itself); any other name unchanged."""
    return next((alias for alias, hub in MODEL_ALIASES.items() if name in (alias, hub)), name)


def model_slug(name: str) -> str:
    """A short name for tables, plots and file names: the alias, else the last path component of a hub id,
    folder or file, without .gguf ("Qwen/Qwen3-8B" -> "qwen3-8b", its alias; "Qwen/Qwen3-4B" -> "Qwen3-4B";
    "/models/smollm2.gguf" -> "smollm2")."""
    alias = alias_of(name)
    if alias in MODEL_ALIASES:
        return alias
    last = name.rstrip("/").rsplit("/", 1)[-1]
    return last[: -len(".gguf")] if last.lower().endswith(".gguf") else last


def llm_label(llm: str, prompt: int | None = None) -> str:
    """How tables, plots and their --tasks/--mtes name an LLM + prompt MTE: "<llm>:p<k>" (`model_slug`); the LLM
    alone without a prompt. The one place the label is built: the sweeps name embeddings by it, and the tables
    and plots match those names against it (data_utils.artifacts.embeddings.EmbeddingInfo.label)."""
    name = model_slug(llm)
    return name if prompt is None else f"{name}:p{prompt}"


def looks_local(name: str) -> bool:
    """A path-like name (./x, /x, ~/x) is a folder or file, never a hub id like "org/model"."""
    return name.startswith((".", "/", "~"))


def same_model(a: str, b: str) -> bool:
    """True when two names denote one model, whether by alias or by hub id."""
    return hub_id(a) == hub_id(b)
