"""Test setup: no network, ever.

HF_HUB_OFFLINE must be set before transformers or datasets is imported, otherwise
every hub lookup waits for a network time-out before failing.
"""
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# --- Tiny models (tests/tiny_models.py): built once per session, loaded by path. ---
# tiny_models is imported inside the fixtures so that test runs which need no
# model never pay for importing transformers (pytest puts tests/ on sys.path).
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """Folder of a tiny uncased BERT (BertForMaskedLM + WordPiece tokenizer)."""
    from tiny_models import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory) -> Path:
    """Folder of a tiny T5 (T5ForConditionalGeneration + Unigram tokenizer, no sentinels)."""
    from tiny_models import build_tiny_t5

    return build_tiny_t5(tmp_path_factory.mktemp("tiny_t5"))


@pytest.fixture(scope="session")
def tiny_roberta(tmp_path_factory) -> Path:
    """Folder of a tiny RoBERTa (RobertaForMaskedLM + byte-level BPE with <s> </s> <pad> <unk> <mask>)."""
    from tiny_models import build_tiny_roberta

    return build_tiny_roberta(tmp_path_factory.mktemp("tiny_roberta"))


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory) -> Path:
    """Folder of a tiny GPT-2 (GPT2LMHeadModel + byte-level BPE); its tokenizer has NO pad token."""
    from tiny_models import build_tiny_gpt2

    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny_gpt2"))


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """Folder of a tiny Llama-2-chat lookalike (LlamaForCausalLM; chat template with system role)."""
    from tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="session")
def tiny_mixtral(tmp_path_factory) -> Path:
    """Folder of a tiny Mixtral-Instruct lookalike (4 experts, 2 per token; template rejects system)."""
    from tiny_models import build_tiny_mixtral

    return build_tiny_mixtral(tmp_path_factory.mktemp("tiny_mixtral"))


@pytest.fixture(scope="session")
def tiny_qwen3(tmp_path_factory) -> Path:
    """Folder of a tiny Qwen3 (Qwen3ForCausalLM, tied embeddings; no BOS, pad == eos; ChatML template)."""
    from tiny_models import build_tiny_qwen3

    return build_tiny_qwen3(tmp_path_factory.mktemp("tiny_qwen3"))


@pytest.fixture
def hf_records():
    """Records that reach transformers' own logger (it does not propagate to the root logger)."""
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    hf_logger = logging.getLogger("transformers")
    hf_logger.addHandler(handler)
    try:
        yield records
    finally:
        hf_logger.removeHandler(handler)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for modules of tiny models: on a shared 2-core machine a thread pool
    only adds wake-up latency (seconds per test when the machine is busy)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
