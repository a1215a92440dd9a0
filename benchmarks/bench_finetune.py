"""The fine-tuning loop against transformers' `Trainer` on the same work: examples/second, side by side in one run.

The same model (all-MiniLM-L6-v2 with a new classification head, the same seed for both), the same features
(the sample sst2 train split, tokenized once with run_cr_train.py's `tokenize_cr` at --max_len), the same batch
(--batch_size, padded per batch to its longest example in both), the same optimiser settings (AdamW at
--learning_rate, the reference's weight decay, warm-up ratio and gradient clipping, a linear schedule) and
--epochs epochs:

(a) ours: task_emb.trainer.train over modeling.features.make_loader, as run_cr_train.py runs it;
(b) Trainer: `Trainer.train()` with DataCollatorWithPadding, no evaluation, no saving, no logging.

Each runs --repeats times, interleaved (a, b, a, b: a burst of load hits both), and keeps its best time. Prints
examples/second of each, (a)/(b) (issue 27's goal: >= 1.0), and both runs' mean training loss of the last epoch
(the same work should end near the same loss; the data order differs, so not exactly).

    python benchmarks/bench_finetune.py [--examples 240] [--epochs 2] [--batch_size 16] [--threads N] [--repeats 2]
                                        [--device cpu|cuda]   (cuda: benchmarks/gpu_check.sh runs it)
"""
from __future__ import annotations

import argparse
import logging
import math
import os
from collections.abc import Callable

from environment import SAMPLES, minilm  # first: puts the repository on sys.path, sets HF_HUB_OFFLINE

os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments  # noqa: E402

from configs.hparams import OPTIMIZER  # noqa: E402
from data_utils.declarations import get_spec  # noqa: E402
from data_utils.loading import load_examples  # noqa: E402
from measure import measure  # noqa: E402
from modeling.features import make_loader, tokenize_cr  # noqa: E402
from task_emb.models import load_task_model, load_tokenizer  # noqa: E402
from task_emb.trainer import TrainConfig, train  # noqa: E402

def fresh_model(spec, tokenizer, seed: int, device: torch.device):
    torch.manual_seed(seed)  # the same new head for both loops
    return load_task_model(spec, minilm(), tokenizer).to(device)


def ours(spec, tokenizer, features, args) -> Callable[[], float]:
    """(a), built: calling it trains and returns the last epoch's mean loss."""
    device = torch.device(args.device)
    model = fresh_model(spec, tokenizer, args.seed, device)
    loader = make_loader(features, tokenizer, args.batch_size, shuffle=True, seed=args.seed)
    config = TrainConfig(learning_rate=args.learning_rate, max_epochs=args.epochs)
    return lambda: train(model, loader, lambda batch: model(**batch).loss, config, device, desc="ours").final_train_loss


def hf_trainer(spec, tokenizer, features, args) -> Callable[[], float]:
    """(b), built: calling it trains and returns the last epoch's mean loss (Trainer's epoch log)."""
    model = fresh_model(spec, tokenizer, args.seed, torch.device(args.device))
    settings = TrainingArguments(
        output_dir=args.work, per_device_train_batch_size=args.batch_size, num_train_epochs=args.epochs,
        learning_rate=args.learning_rate, weight_decay=OPTIMIZER["weight_decay"],
        warmup_steps=float(OPTIMIZER["warmup_ratio"]), max_grad_norm=OPTIMIZER["max_grad_norm"],
        lr_scheduler_type="linear", seed=args.seed, use_cpu=args.device == "cpu", save_strategy="no", eval_strategy="no",
        logging_strategy="epoch", report_to=[], disable_tqdm=True, dataloader_num_workers=0)
    trainer = Trainer(model=model, args=settings, train_dataset=features,
                      data_collator=DataCollatorWithPadding(tokenizer))
    trainer.remove_callback(PrinterCallback)  # it prints each log line

    def run() -> float:
        trainer.train()
        losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
        return losses[-1] if losses else math.nan
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=240, help="sample sst2 training examples (it holds 240)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each loop")
    parser.add_argument("--batch_size", type=int, default=16, help="examples per batch, both loops")
    parser.add_argument("--learning_rate", type=float, default=2e-4, help="the demo's fine-tuning rate")
    parser.add_argument("--max_len", type=int, default=128, help="truncation length (run_cr_train.py's default)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each loop, interleaved; the best is kept")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", default="/tmp/bench_finetune", help="Trainer's output_dir (it writes nothing)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where both loops train")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    logging.basicConfig(level=logging.ERROR)

    spec = get_spec("sst2", "cr")
    tokenizer = load_tokenizer(minilm())
    examples = load_examples(spec, str(SAMPLES / "sst2"), args.examples, args.seed)["train"]
    features = tokenize_cr(examples, tokenizer, args.max_len)
    tokens = sum(len(f["input_ids"]) for f in features) / len(features)
    work = len(features) * args.epochs
    print(f"all-MiniLM-L6-v2 + head on {len(features)} sst2 examples ({tokens:.1f} tokens each), {args.epochs} epochs, "
          f"batch {args.batch_size}, {args.device}, torch threads {torch.get_num_threads()}, load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs, torch {torch.__version__}, transformers "
          f"{transformers.__version__}")
    best = {"(a) ours": (math.inf, "", math.nan), "(b) Trainer": (math.inf, "", math.nan)}
    for _ in range(args.repeats):
        for name, build in (("(a) ours", ours), ("(b) Trainer", hf_trainer)):
            seconds, peak, loss = measure(build(spec, tokenizer, features, args))  # the training alone is timed
            best[name] = min(best[name], (seconds, peak, loss))
    for name, (seconds, peak, loss) in best.items():
        print(f"{name:12s} {work / seconds:7.1f} ex/s  {seconds:6.2f} s  peak {peak}  last epoch's loss {loss:.4f}")
    ratio = best["(b) Trainer"][0] / best["(a) ours"][0]
    print(f"(a)/(b) = {ratio:.2f}x Trainer's throughput (goal >= 1.0)")


if __name__ == "__main__":
    main()
