"""The model side shared by task_emb and llm_inference: how the installed transformers loads checkpoints and hands
over key/value caches (hf_compat.py), and examples -> tokenized features -> torch batches (features.py)."""
