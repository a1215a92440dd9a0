"""run_llm_inference.py on a GPU against the CPU, on the tiny Llama and Mixtral of the tests.

For each model: sst2's sample (data/samples/sst2, 60 examples), prompt 0, scored on the CPU
at 32 bits, then on `--device` at 32 and 16 bits. Prints the time of each run and, against
the CPU run, the largest verbalizer-score difference, how many predictions agree and the
largest relative perplexity difference. Needs no download: the models are built from
configs (tests/tiny_models.py), as in the tests.

    python benchmarks/check_llm_devices.py [--device cuda]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402

import run_llm_inference  # noqa: E402
from tiny_models import build_tiny_llama, build_tiny_mixtral  # noqa: E402  (tests/tiny_models.py)


def score(folder: Path, model: Path, device: str, bit: str, tag: str) -> tuple[dict, float]:
    start = time.perf_counter()
    output = run_llm_inference.main([
        "--save_path", str(folder / f"{model.name}_{tag}"), "--model", str(model), "--dataset_name", "sst2",
        "--prompt_number", "0", "--bit", bit, "--batch_size", "8", "--device", device,
        "--dataset_path", str(ROOT / "data/samples/sst2")])
    return output, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="the device compared with the CPU")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for build in (build_tiny_llama, build_tiny_mixtral):
            model = build(folder / build.__name__.removeprefix("build_"))
            reference, seconds = score(folder, model, "cpu", "32", "reference")
            print(f"{model.name} cpu, 32 bits: {len(reference['results'])} examples in {seconds:.1f} s")
            for bit in ("32", "16"):
                output, seconds = score(folder, model, args.device, bit, f"{args.device}_{bit}")
                pairs = list(zip(reference["results"], output["results"]))
                score_diff = max(np.abs(np.subtract(a["token_info"]["word_scores"], b["token_info"]["word_scores"])).max()
                                 for a, b in pairs)
                agree = sum(a["normalized_pred"] == b["normalized_pred"] for a, b in pairs)
                ppl_diff = max(abs(b["prompt_ppl"] / a["prompt_ppl"] - 1) for a, b in pairs)
                print(f"{model.name} {args.device}, {bit} bits: {seconds:.1f} s; against cpu/32: largest score "
                      f"difference {score_diff:.2e}, same prediction {agree}/{len(pairs)}, perplexity within {ppl_diff:.1e}")


if __name__ == "__main__":
    main()
