"""Speed and memory of task-embedding learning on the real MiniLM (all-MiniLM-L6-v2), CPU or GPU.

MiniLM is both the surrogate T and the "fine-tuned" model M whose outputs y' make the
MTE (its classification head is freshly initialised: the numbers are timings, not
embeddings worth comparing). Everything goes through the library functions that
run_task_emb.py wires together (task_emb.pipeline, task_emb.trainer, task_emb.fim),
with the sample data of data/samples:

- DTE: `data_training_set` on sst2's training sample (gold labels), one prefix epoch;
- MTE: `model_training_set` on x' (y' computed once: timed on its own), one prefix
  epoch on the cached y'; x' is either the same sst2 sentences without labels
  ("same x'": the cleanest comparison) or the first N of the local pool
  data/samples/unsup_pool.jsonl, sampled and shuffled as run_task_emb.py does
  ("pool x'": what a real run sees, other lengths);
- FIM: one fine-tuning epoch of the whole surrogate, then each estimator.

Issue 3's targets: an MTE epoch costs at most 1.2x a DTE epoch of the same number of
examples (at the same micro-batch; the MTE default micro-batch of 128/16 = 8 is timed
too, for information), and `empirical` costs at most 1.3x `reference`.

Per phase, "peak" is the resident-set high-water mark of that phase alone (the mark
is reset through /proc/self/clear_refs before it; Linux only), which includes every
model already loaded; "(+N)" is its growth over the resident set at the phase's start.
tracemalloc is of no use here: torch's CPU allocator bypasses it. Each timing is the
best of --repeats, variants interleaved so that a burst of load from other jobs hits
them alike.

    python benchmarks/bench_task_emb.py [--examples 240] [--repeats 2] [--threads 1] [--fim_chunk_sizes 4 8]
        [--skip_fim] [--device cuda] [--model FOLDER]

--model takes any copy of MiniLM (the GPU run carries a float16 copy of the weights,
loaded as float32); on a GPU each phase also prints the CUDA allocator's peak.

On a machine shared with other jobs use --threads 1 (see benchmarks/bench_fim.py).
"""
from __future__ import annotations

import argparse
import os
import sys

from environment import SAMPLES, minilm  # first: puts the repository on sys.path, sets HF_HUB_OFFLINE

os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402

from data_utils.declarations import get_spec  # noqa: E402
from data_utils.loading import load_examples  # noqa: E402
from data_utils.pool_inputs import build_inputs  # noqa: E402
from data_utils.unsup_pool import load_pool  # noqa: E402
from task_emb.models import load_tokenizer  # noqa: E402
from task_emb.options import micro_batch_size  # noqa: E402
from task_emb.pipeline import data_training_set, hyper_parameters  # noqa: E402
from measure import measure, whole_run  # noqa: E402  (benchmarks/measure.py)
from task_emb_phases import SEED, fim_phases, mte_training_sets, prefix_epochs, row, tokens_per_example  # noqa: E402

SST2 = SAMPLES / "sst2"
POOL = SAMPLES / "unsup_pool.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=240,
                        help="examples for DTE and MTE alike (sst2's sample has 240 training examples)")
    parser.add_argument("--repeats", type=int, default=2, help="timings per variant; the best is kept")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--fim_chunk_sizes", type=int, nargs="+", default=[4, 8],
                        help="examples per hooked pass of `empirical` (each timed; the best counts)")
    parser.add_argument("--skip_fim", action="store_true", help="time prefix DTE/MTE only")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    parser.add_argument("--model", default=None, help="folder of MiniLM (default: the installed package)")
    args = parser.parse_args()
    device, path = torch.device(args.device), args.model or minilm()
    if args.threads:
        torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()  # the newly initialised heads are expected

    tokenizer = load_tokenizer(path)
    spec = get_spec("sst2")
    hp_dte = hyper_parameters("data", "cr", "prefix", True, {"max_epochs": 1})
    micro = micro_batch_size(hp_dte)
    hp_mte_default = hyper_parameters("model", "cr", "prefix", False, {})
    # Same micro-batch as the DTE: the effective batch (an optimiser step every 128) barely matters for speed.
    hp_mte_matched = hyper_parameters("model", "cr", "prefix", False, {
        "gradient_accumulation_steps": hp_mte_default["batch_size"] // micro})
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"MiniLM (surrogate and M), {where}, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs, torch {torch.__version__}")

    # Training sets: tokenization and the one-off y' are timed here, never inside an epoch.
    seconds, peak, dte = measure(lambda: data_training_set(spec, tokenizer, hp_dte["max_len"], str(SST2),
                                                           args.examples, SEED, micro, device))
    n = len(dte.features)
    row("DTE data (tokenize)", n, seconds, peak, f"{tokens_per_example(dte):.1f} tokens/example")
    same_inputs = [{"text": e["text"]} for e in load_examples(spec, str(SST2), args.examples, SEED)["train"]]
    pool, _ = load_pool("none", 1000, SEED, POOL)  # as run_task_emb.py reads a local pool
    pool_inputs = build_inputs(pool, "cr", cr_is_pair=spec.is_pair)[:n]
    if len(pool_inputs) < n:
        sys.exit(f"the pool has only {len(pool_inputs)} inputs; use --examples {len(pool_inputs)} or fewer")
    mtes = mte_training_sets(path, spec, tokenizer, {"same x'": same_inputs, "pool x'": pool_inputs},
                             hp_mte_matched["max_len"], micro, device)

    # Prefix epochs: DTE and MTE variants interleaved, best of the repeats.
    variants = {
        "prefix DTE epoch": (dte, hp_dte),
        "prefix MTE epoch (same x')": (mtes["same x'"], hp_mte_matched),
        "prefix MTE epoch (pool x')": (mtes["pool x'"], hp_mte_matched),
        "prefix MTE epoch (same x', mb 8)": (mtes["same x'"], hp_mte_default),
    }
    best, prefix_dim = prefix_epochs(path, variants, tokenizer, args.repeats, device)
    for name in ("same x'", "pool x'"):
        ratio = best[f"prefix MTE epoch ({name})"][0] / best["prefix DTE epoch"][0]
        per_token = ratio * tokens_per_example(dte) / tokens_per_example(mtes[name])
        print(f"MTE epoch / DTE epoch ({name}, micro-batch {micro}) = {ratio:.2f}x (target <= 1.2x); "
              f"per token {per_token:.2f}x")
    ratio = best["prefix MTE epoch (same x', mb 8)"][0] / best["prefix DTE epoch"][0]
    print(f"MTE epoch / DTE epoch (same x', MTE default micro-batch 8) = {ratio:.2f}x (for information)")

    fim_dim = 0 if args.skip_fim else fim_phases(path, dte, tokenizer, micro, args.fim_chunk_sizes, args.repeats,
                                                 device)

    print(f"embedding sizes: prefix {prefix_dim} floats ({prefix_dim * 4 / 2**10:.0f} KiB float32)"
          + (f", FIM {fim_dim} floats ({fim_dim * 4 / 2**20:.1f} MiB float32, {fim_dim * 2 / 2**20:.1f} MiB float16)"
             if fim_dim else ""))
    print(whole_run())


if __name__ == "__main__":
    main()
