"""Model aliases: short names used in the paper's commands -> Hugging Face ids.

Anything that is not an alias is passed to `from_pretrained` unchanged: a hub id,
a local folder, or (for LLMs) a `.gguf` file.
"""

MODEL_ALIASES: dict[str, str] = {
    "llama-13b": "meta-llama/Llama-2-13b-chat-hf",
    "llama-70b": "meta-llama/Llama-2-70b-chat-hf",
    "mixtral": "mistralai/Mixtral-8x7B-Instruct-v0.1",
}

# The chat format of the paper's runs, pinned for its aliases (files in configs/chat_templates/):
# the hub's templates change (Mixtral-8x7B-Instruct-v0.1's now takes a system message), and an
# alias must keep rendering the prompts the paper's tables were measured with.
PINNED_CHAT_TEMPLATES: dict[str, str] = {
    "llama-13b": "llama-2-chat.jinja",
    "llama-70b": "llama-2-chat.jinja",
    "mixtral": "mixtral-8x7b-instruct-v0.1-2023-12.jinja",
}
