"""Speed and memory of the FIM estimators on the real MiniLM (all-MiniLM-L6-v2) on CPU.

Prints examples/second of each estimator (best of --repeats), the process's peak
resident memory after it (ru_maxrss, which only grows), and the vector length.
The issue's target: `empirical` costs at most 1.3x `reference`.

    python benchmarks/bench_fim.py [--examples 256] [--batch_size 32] [--chunk_sizes 8 32] [--threads 1]

On a machine shared with other jobs use --threads 1: with more threads than free
cores, torch's thread-pool wake-ups dominate and the timings mean nothing.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import time

from environment import minilm  # first: puts the repository on sys.path, sets HF_HUB_OFFLINE

import torch  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402

from task_emb.fim import FIM_ESTIMATORS, fim_embedding  # noqa: E402

SUBJECTS = ["The movie", "This film", "The plot", "Her performance", "The soundtrack", "The ending", "The director",
            "Every scene", "The sequel", "The cast"]
VERBS = ["was", "felt", "seemed", "is", "looked", "turned out"]
ADJECTIVES = ["wonderful", "boring", "far too long", "surprisingly funny", "dull", "moving", "a complete mess",
              "beautifully shot", "predictable", "charming"]
TAILS = ["", " and I would watch it again.", ", but the second half drags.", " from start to finish.",
         " despite a weak script.", ", which nobody expected."]


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(ADJECTIVES)}{rng.choice(TAILS)}" for _ in range(n)]


def make_batches(tokenizer, texts: list[str], batch_size: int) -> list[dict]:
    rng = random.Random(1)
    batches = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start:start + batch_size]
        enc = tokenizer(chunk, padding=True, truncation=True, max_length=128, return_tensors="pt")
        batches.append({**enc, "labels": torch.tensor([rng.randrange(2) for _ in chunk])})
    return batches


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def timed(model, batches, estimator: str, repeats: int, **kwargs) -> tuple[float, int]:
    best, length = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        vector = fim_embedding(model, batches, lambda b: model(**b).loss, estimator, **kwargs)
        best, length = min(best, time.perf_counter() - start), vector.size
    return best, length


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=256, help="number of sentences")
    parser.add_argument("--batch_size", type=int, default=32, help="batch size of the FIM pass")
    parser.add_argument("--chunk_sizes", type=int, nargs="+", default=[8, 32],
                        help="examples per hooked pass of the empirical estimator")
    parser.add_argument("--repeats", type=int, default=2, help="timings per estimator; the best is kept")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    tokenizer = AutoTokenizer.from_pretrained(minilm())
    model = AutoModelForSequenceClassification.from_pretrained(minilm(), num_labels=2)
    batches = make_batches(tokenizer, sentences(args.examples), args.batch_size)
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    print(f"MiniLM, {args.examples} examples ({tokens / args.examples:.1f} tokens each), batch {args.batch_size}, "
          f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"start: peak RSS {peak_mib():.0f} MiB")
    fim_embedding(model, batches[:1], lambda b: model(**b).loss, "reference")  # warm-up

    runs = [(e, {}) for e in FIM_ESTIMATORS if e != "empirical"]
    runs += [("empirical", {"chunk_size": c}) for c in args.chunk_sizes]
    runs += [("empirical", {"per_example": "loop"})]
    seconds = {}
    for estimator, kwargs in runs:
        label = estimator + "".join(f" {k}={v}" for k, v in kwargs.items())
        seconds[label], length = timed(model, batches, estimator, args.repeats, **kwargs)
        print(f"{label:28s} {args.examples / seconds[label]:8.1f} examples/s  {seconds[label]:7.2f} s  "
              f"peak RSS {peak_mib():6.0f} MiB  length {length}")
    best = min((s, label) for label, s in seconds.items() if label.startswith("empirical chunk"))
    print(f"best empirical ({best[1]}) / reference = {best[0] / seconds['reference']:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
