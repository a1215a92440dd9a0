"""The three parts of bench_sweeps.py: the LLM sweep before and now, the fine-tune sweep at --jobs 1 and 2, the grid.

Each part runs the entry scripts as a user would (one subprocess per command, from the
repository root, offline) and prints its own lines.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from environment import ROOT, SAMPLES, minilm, smollm2_gguf  # first: puts the repository on sys.path

SETS = {"sa": "sst2", "nli": "cb"}
LOADED = re.compile(r"model loaded in ([0-9.]+) s")


def run(argv: list[str]) -> tuple[float, list[float]]:
    """Run one entry script from the repository root; (wall seconds, model load seconds it logged)."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if result.returncode:
        sys.exit(f"failed: {' '.join(argv)}\n{result.stderr[-3000:]}")
    return time.perf_counter() - started, [float(m) for m in LOADED.findall(result.stderr)]


# ----------------------------------------------------------------------------- (1) the LLM sweep

def llm_phase(name: str, commands: list[list[str]]) -> dict:
    """Run `commands` one after the other; print and return processes, model loads, loading and wall seconds."""
    wall, loads = 0.0, []
    for argv in commands:
        seconds, loaded = run(argv)
        wall, loads = wall + seconds, loads + loaded
    row = {"phase": name, "processes": len(commands), "model_loads": len(loads), "load_s": sum(loads),
           "wall_s": wall, "load_share": sum(loads) / wall}
    print(f"{name:<24} {row['processes']:>9} {row['model_loads']:>11} {row['load_s']:>8.1f} {wall:>8.1f} "
          f"{100 * row['load_share']:>9.1f}%", flush=True)
    return row


def same_distributions(before: Path, after: Path) -> None:
    """Print how many output files of the two phases were compared and which hold other label distributions."""
    compared, differs = 0, []
    for name in sorted(p.name for p in before.glob("*.json*") if ".record." not in p.name):
        if name.endswith(".json"):
            a, b = (json.loads((folder / name).read_text())["results"] for folder in (before, after))
            same = [x["normalized_prob"] for x in a] == [x["normalized_prob"] for x in b]
        else:
            rows = [sorted((json.loads(line)["data_index"], json.loads(line)["normalized_prob"])
                           for line in (folder / name).read_text().splitlines()) for folder in (before, after)]
            same = rows[0] == rows[1]
        compared += 1
        if not same:
            differs.append(name)
    print(f"  {compared} files compared; label distributions differ in: {', '.join(differs) or 'none'}")


def llm_sweep(work: Path, examples: int, x_per_source: int) -> None:
    """All 13 prompts on sst2 and cb and on x' of both genres: a process per (set, prompt), then one per script."""
    from llm_inference.models import unpack_gguf

    model = unpack_gguf(smollm2_gguf(), work / "smollm2")
    llm = ["--model", model, "--bit", "32", "--cot_max_new_tokens", "16", "--verbalizer_tokens", "first",
           "--device", "cpu"]
    for genre in SETS:
        x = work / f"{genre}_x.jsonl"
        if not x.exists():
            run(["run_task_emb.py", "--task_type", genre, "--input_type", "model", "--task_emb_type", "prefix",
                 "--generate_model_data_only", "True", "--unsup_data_path", str(SAMPLES / "unsup_pool.jsonl"),
                 "--max_data_for_task_emb_train", str(x_per_source), "--task_emb_model_lm_name", minilm(),
                 "--save_path", str(x)])
    lines = {genre: sum(1 for _ in open(work / f"{genre}_x.jsonl")) for genre in SETS}
    print(f"\n(1) LLM sweep on SmolLM2: 13 prompts x (sst2, cb: {examples} examples each) and x' "
          f"(sa {lines['sa']}, nli {lines['nli']} lines)")
    print(f"{'phase':<24} {'processes':>9} {'model loads':>11} {'load s':>8} {'wall s':>8} {'load share':>10}")
    before, after = work / "before", work / "after"
    per_prompt = [["run_llm_inference.py", *llm, "--dataset_name", d, "--dataset_path", str(SAMPLES / d),
                   "--max_examples", str(examples), "--prompt_number", str(p), "--save_path", str(before / f"{d}_p{p}")]
                  for d in SETS.values() for p in range(13)]
    per_prompt += [["run_llm_inference_for_te.py", *llm, "--task_genre", g,
                    "--data_load_path", str(work / f"{g}_x.jsonl"), "--prompt_number", str(p),
                    "--save_path", str(before / f"y_{g}_p{p}")]
                   for g in SETS for p in range(13)]
    once = [["run_llm_inference.py", *llm, "--dataset_name", ",".join(SETS.values()), "--dataset_path",
             str(SAMPLES / "{dataset}"), "--max_examples", str(examples), "--prompt_number", "0-12",
             "--save_path", str(after / "{dataset}_p{prompt}")]]
    once += [["run_llm_inference_for_te.py", *llm, "--task_genre", g, "--data_load_path", str(work / f"{g}_x.jsonl"),
              "--prompt_number", "0-12", "--save_path", str(after / f"y_{g}_p{{prompt}}")] for g in SETS]
    llm_phase("before: a load per run", per_prompt)
    llm_phase("now: a load per script", once)
    same_distributions(before, after)


# ----------------------------------------------------------------------------- (2) the fine-tune sweep, (3) the grid

def finetune_sweep(work: Path) -> None:
    """scripts/sweep.py finetune on three sample CR sets, with --jobs 1 and --jobs 2."""
    print("\n(2) fine-tune sweep: all-MiniLM-L6-v2 on sample mrpc, rte, sst2 (3 fine-tunes, 6 transfers), "
          "96 examples, 1 epoch")
    for jobs in (1, 2):
        seconds, _ = run(["scripts/sweep.py", "finetune", "--out", str(work / f"jobs{jobs}"), "--lm", minilm(),
                          "--cr_datasets", "mrpc,rte,sst2", "--qa_datasets", "", "--data_dir", str(SAMPLES),
                          "--jobs", str(jobs), "--extra",
                          "--max_train_examples 96 --max_epochs 1 --device cpu --log_level WARNING"])
        print(f"  --jobs {jobs}: {seconds:.1f} s")


def paper_grid() -> None:
    """The steps per stage of `sweep.py all` at the paper's defaults (built, not run)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import sweep as sweep_cli
    from sweeps import paper

    args = sweep_cli.build_parser().parse_args(["all", "--out", "/nonexistent/paper"])
    graph = paper.build("all", sweep_cli.options_from(args, Path.cwd()), [])
    counts = Counter(step.stage for step in graph.steps)
    print(f"\n(3) the paper's grid (sweep.py all, the paper's defaults): {len(graph.steps)} steps")
    for stage, count in counts.items():
        print(f"  {stage:<14} {count:>4}")
