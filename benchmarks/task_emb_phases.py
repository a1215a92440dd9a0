"""The phases that bench_task_emb.py times on MiniLM: y' of an MTE, prefix epochs, FIM fine-tuning and estimators.

Each phase runs through the library functions that run_task_emb.py wires together and is
timed by measure.measure; each function prints its phase's rows (`row`).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import environment  # noqa: F401  (first: puts the repository on sys.path)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from configs.hparams import PREFIX  # noqa: E402
from modeling.features import make_loader  # noqa: E402
from task_emb.fim import FIM_ESTIMATORS, fim_embedding  # noqa: E402
from task_emb.models import load_head_model, load_task_model, resolve_checkpoint, save_checkpoint  # noqa: E402
from task_emb.options import micro_batch_size  # noqa: E402
from task_emb.pipeline import hyper_parameters, model_training_set  # noqa: E402
from task_emb.prefix import PrefixTaskModel  # noqa: E402
from task_emb.surrogate import TrainingSet, make_loss  # noqa: E402
from task_emb.trainer import TrainConfig, train  # noqa: E402
from measure import keep_best, measure  # noqa: E402

SEED = 42


def row(label: str, examples: int, seconds: float, peak: str, extra: str = "") -> None:
    print(f"{label:36s} {examples / seconds:8.1f} ex/s  {seconds:7.2f} s  peak {peak}  {extra}")


def tokens_per_example(training: TrainingSet) -> float:
    return sum(len(f["input_ids"]) for f in training.features) / len(training.features)


def mte_training_sets(path: str, spec, tokenizer, inputs: dict[str, list[dict]], max_len: int, micro_batch: int,
                      device: torch.device) -> dict[str, TrainingSet]:
    """`model_training_set` on each named x' (load M, one forward for y', tokenize for T), each timed once.

    M is MiniLM with a head of `spec` of its own (an MTE reads only a checkpoint's own head), saved once in a
    temporary folder; its outputs cost what a fine-tuned model's do.
    """
    mtes = {}
    with tempfile.TemporaryDirectory(prefix="bench_task_emb_") as folder:
        checkpoint = str(Path(folder) / "m")
        save_checkpoint(load_task_model(spec, path, tokenizer), tokenizer, checkpoint)
        for name, x in inputs.items():
            seconds, peak, mtes[name] = measure(lambda: model_training_set(resolve_checkpoint(checkpoint), spec, x,
                                                                           tokenizer, max_len, micro_batch, device))
            row(f"MTE y' once ({name}, load M + fwd)", len(mtes[name].features), seconds, peak,
                f"{tokens_per_example(mtes[name]):.1f} tokens/example")
    return mtes


# ----------------------------------------------------------------------------- prefix epochs

def surrogate(path: str, training: TrainingSet, tokenizer, prefix: bool, device: torch.device) -> torch.nn.Module:
    """T with the head of the training set, wrapped for prefix-tuning as task_emb.prefix.learn does."""
    head = training.head
    model = load_head_model(path, head.task_class, head.labels, head.regression, tokenizer)
    if prefix:
        model = PrefixTaskModel(model, prefix_len=PREFIX["prefix_len"], seed=SEED, dropout=PREFIX["dropout"])
    return model.to(device)


def one_epoch(model: torch.nn.Module, training: TrainingSet, tokenizer, hp: dict, device: torch.device) -> None:
    """One training epoch exactly as task_emb.surrogate.fit_surrogate runs it (no dev evaluation)."""
    micro_batch = micro_batch_size(hp)
    loader = make_loader(training.features, tokenizer, micro_batch, shuffle=False, seed=SEED)
    loss = make_loss(training.target, "bce")
    config = TrainConfig(learning_rate=hp["learning_rate"], max_epochs=1,
                         gradient_accumulation_steps=hp["gradient_accumulation_steps"], patience=None)
    train(model, loader, lambda batch: loss(model, batch), config, device, None, desc="bench")


def timed_epoch(path: str, training: TrainingSet, tokenizer, hp: dict, prefix: bool,
                device: torch.device) -> tuple[float, str, torch.nn.Module]:
    model = surrogate(path, training, tokenizer, prefix, device)  # loading is outside the timing
    seconds, peak, _ = measure(lambda: one_epoch(model, training, tokenizer, hp, device))
    return seconds, peak, model


def prefix_epochs(path: str, variants: dict[str, tuple[TrainingSet, dict]], tokenizer, repeats: int,
                  device: torch.device) -> tuple[dict[str, tuple[float, str]], int]:
    """One prefix epoch of each variant (label: training set, hyper-parameters), interleaved, best of `repeats`.

    Prints a row per variant; returns {label: (seconds, peak)} and the size of a prefix embedding.
    """
    best: dict[str, tuple[float, str]] = {}
    surrogate(path, next(iter(variants.values()))[0], tokenizer, True, device)  # warm-up: first loads and touches
    for _ in range(repeats):
        for label, (training, hp) in variants.items():
            seconds, peak, prefix_model = timed_epoch(path, training, tokenizer, hp, True, device)
            keep_best(best, label, seconds, peak)
    for label, (training, hp) in variants.items():
        row(label, len(training.features), *best[label],
            f"micro-batch {micro_batch_size(hp)}, effective {hp['batch_size']}")
    return best, prefix_model.embedding().size


# ----------------------------------------------------------------------------- FIM

def fim_phases(path: str, training: TrainingSet, tokenizer, micro_batch: int, chunk_sizes: list[int], repeats: int,
               device: torch.device) -> int:
    """One fine-tuning epoch of all of T, then every FIM estimator (`empirical` at each chunk size), best of
    `repeats`, interleaved; off the CPU, each estimator is recomputed on the CPU and compared. Returns the FIM's
    size."""
    n = len(training.features)
    hp_fim = hyper_parameters("data", "cr", "fim", True, {"max_epochs": 1})
    seconds, peak, fim_model = timed_epoch(path, training, tokenizer, hp_fim, False, device)
    row("FIM fine-tuning epoch (all of T)", n, seconds, peak)
    batches = list(make_loader(training.features, tokenizer, micro_batch, shuffle=False))
    loss = make_loss(training.target, "bce")
    loss_fn = lambda batch: loss(fim_model, batch)  # noqa: E731
    fim_embedding(fim_model, batches[:1], loss_fn, "reference")  # warm-up
    fim_best: dict[str, tuple[float, str]] = {}
    vectors: dict[str, np.ndarray] = {}
    runs = [(e, {}) for e in FIM_ESTIMATORS if e != "empirical"]
    runs += [("empirical", {"chunk_size": c}) for c in chunk_sizes]
    for _ in range(repeats):
        for estimator, kwargs in runs:
            label = estimator + "".join(f" {k} {v}" for k, v in kwargs.items())
            seconds, peak, vectors[estimator] = measure(lambda: fim_embedding(fim_model, batches, loss_fn, estimator,
                                                                              **kwargs))
            keep_best(fim_best, label, seconds, peak)
    for label, best_run in fim_best.items():
        row(f"FIM {label}", n, *best_run)
    empirical = min((s, label) for label, (s, _) in fim_best.items() if label.startswith("empirical"))
    print(f"FIM best empirical ({empirical[1]}) / reference = {empirical[0] / fim_best['reference'][0]:.2f}x "
          f"(target <= 1.3x)")
    if device.type != "cpu":  # the same model and batches on the CPU: only rounding may differ
        fim_model.to("cpu")
        for estimator, vector in vectors.items():
            on_cpu = fim_embedding(fim_model, batches, loss_fn, estimator)
            print(f"FIM {estimator} on {device.type} vs cpu: max |difference| / max value "
                  f"{np.abs(vector - on_cpu).max() / np.abs(on_cpu).max():.1e}")
    return vectors["reference"].size
