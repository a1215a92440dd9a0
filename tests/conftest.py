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
