"""Model aliases: short names used in the paper's commands -> Hugging Face ids.

Anything that is not an alias is passed to `from_pretrained` unchanged: a hub id,
a local folder, or (for LLMs) a `.gguf` file.
"""

MODEL_ALIASES: dict[str, str] = {
    "llama-13b": "meta-llama/Llama-2-13b-chat-hf",
    "llama-70b": "meta-llama/Llama-2-70b-chat-hf",
    "mixtral": "mistralai/Mixtral-8x7B-Instruct-v0.1",
}
