"""The phases that bench_llm.py times: the sample, (a) the original's algorithm, (b) ours, (c) the floor.

Also what it prints about them: a timing row, the comparison of two sets of scores, the
cProfile of (b), and the 8-bit against 32-bit comparison from one fp32 checkpoint.
"""
from __future__ import annotations

import cProfile
import io
import math
import pstats
import tempfile
from pathlib import Path

from environment import SAMPLES, smollm2_gguf  # first: puts the repository on sys.path

import torch  # noqa: E402

from llm_inference.data import get_llm_spec, load_eval_examples  # noqa: E402
from llm_inference.models import load_llm, unpack_gguf  # noqa: E402
from llm_inference.prompts import apply_chat_template, build_messages  # noqa: E402
from llm_inference.scoring import PromptScorer, label_distribution  # noqa: E402
from measure import measure  # noqa: E402

DATASETS = ("sst2", "rotten_tomatoes")
CPU = torch.device("cpu")


def row(label: str, examples: int | None, seconds: float, peak: str) -> None:
    speed = f"{examples / seconds:7.2f} ex/s" if examples else " " * 12
    print(f"{label:44s} {speed}  {seconds:7.2f} s  peak {peak}")


def load_sample(prompt, n: int, seed: int) -> list[dict]:
    """n examples: sst2's validation sample, then rotten_tomatoes' test split; data_index made unique."""
    examples: list[dict] = []
    for offset, name in enumerate(DATASETS):
        if len(examples) >= n:
            break
        spec = get_llm_spec(name)
        part, _ = load_eval_examples(spec, prompt.fields, str(SAMPLES / name), n - len(examples), seed)
        examples += [{**e, "data_index": offset * 10**6 + e["data_index"]} for e in part]
    return examples


# ----------------------------------------------------------------------------- (a) the original's algorithm

def original_scores(model, tokenizer, prompt, fields: dict, verbalizer_ids: list[int]) -> tuple[list[float], float]:
    """One example as the original scored it: generate with scores, then a second pass for perplexity."""
    text = apply_chat_template(tokenizer, build_messages(prompt, fields))
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"].to(model.device)
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=5, min_new_tokens=1,
                             do_sample=False, num_beams=1, repetition_penalty=1.2, no_repeat_ngram_size=3,
                             output_scores=True, return_dict_in_generate=True,
                             pad_token_id=tokenizer.pad_token_id)
        # The answer step: the first step whose greedy token is not blank (step 0 if none is).
        step = next((s for s, scores in enumerate(out.scores)
                     if tokenizer.decode(scores[0].argmax()).strip()), 0)
        word_scores = torch.nan_to_num(out.scores[step][0, verbalizer_ids], nan=0.0, posinf=1e5, neginf=-1e5)
        # The original decoded the prompt and tokenized it again for its perplexity pass.
        ppl_ids = tokenizer(tokenizer.decode(ids[0]), add_special_tokens=False, return_tensors="pt")["input_ids"]
        logits = model(ppl_ids.to(model.device)).logits[0, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits, ppl_ids[0, 1:].to(model.device))
    return word_scores.tolist(), math.exp(float(nll))


# ----------------------------------------------------------------------------- (b) this implementation

def score_b(scorer: PromptScorer, examples: list[dict], batch_size: int) -> dict[int, object]:
    return {e["data_index"]: s for batch, scores in scorer.score_all(examples, batch_size)
            for e, s in zip(batch, scores)}


def profile_b(scorer: PromptScorer, examples: list[dict], batch_size: int) -> None:
    """Print cProfile's top 15 functions by own time of (b) on `examples`."""
    profiler = cProfile.Profile()
    profiler.enable()
    score_b(scorer, examples, batch_size)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    print(f"cProfile of (b) on {len(examples)} examples, top 15 by own time:")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])


# ----------------------------------------------------------------------------- (c) the floor

def padded_batches(scorer: PromptScorer, examples: list[dict], batch_size: int) -> list[dict]:
    """The batches (b) forwards first, in its order (longest prompt first), left-padded."""
    prompts = [scorer.greedy.encode(scorer.first_turn(e["fields"])[1]) for e in examples]
    prompts.sort(key=len, reverse=True)
    batches = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start:start + batch_size]
        width = max(map(len, chunk))
        ids = torch.full((len(chunk), width), scorer.greedy.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, p in enumerate(chunk):
            ids[r, width - len(p):], mask[r, width - len(p):] = torch.tensor(p), 1
        batches.append({"input_ids": ids, "attention_mask": mask,
                        "position_ids": (mask.cumsum(-1) - 1).clamp(min=0)})
    return batches


def floor(model, batches: list[dict]) -> None:
    with torch.no_grad():
        for batch in batches:
            model(**{k: v.to(model.device) for k, v in batch.items()}, use_cache=False)


# ----------------------------------------------------------------------------- comparisons

def compare(label: str, reference: dict, other: dict, prompt) -> None:
    diffs = [max(abs(x - y) for x, y in zip(reference[i][0], other[i].word_scores)) for i in reference]
    same = sum(label_distribution(reference[i][0], prompt)["normalized_pred"]
               == label_distribution(other[i].word_scores, prompt)["normalized_pred"] for i in reference)
    ppl = max(abs(reference[i][1] - other[i].prompt_ppl) / reference[i][1] for i in reference)
    print(f"{label}: max |score diff| {max(diffs):.2e}, same prediction {same}/{len(reference)}, "
          f"max relative ppl diff {ppl:.2e}")


def eight_bit(prompt, examples: list[dict], batch_size: int, fp32_gguf: dict) -> None:
    """(b) at 8 bit (bitsandbytes) vs 32 bit, both loaded from one fp32 checkpoint of the GGUF model."""
    n = len(examples)
    with tempfile.TemporaryDirectory(prefix="bench_llm_") as folder:
        try:
            folder = unpack_gguf(smollm2_gguf(), Path(folder) / "plain")
        except Exception as err:  # noqa: BLE001 -- the benchmark reports why, whatever it is
            print(f"8-bit comparison skipped: saving an fp32 checkpoint failed: {type(err).__name__}: {err}")
            return
        results = {}
        for bit in (32, 8):
            try:
                seconds, peak, (m, t) = measure(lambda: load_llm(folder, bit, CPU))
            except Exception as err:  # noqa: BLE001 -- the benchmark reports why, whatever it is
                print(f"{bit}-bit load failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
                continue
            row(f"load checkpoint at {bit} bit", None, seconds, peak)
            scorer = PromptScorer(m, t, prompt)
            score_b(scorer, examples[:2], batch_size)  # warm-up
            seconds, peak, results[bit] = measure(lambda: score_b(scorer, examples, batch_size))
            weights = sum(p.numel() * p.element_size() for p in m.parameters()) / 2**20
            row(f"(b) at {bit} bit, bs {batch_size} ({weights:.0f} MiB weights)", n, seconds, peak)
            results[bit] = (seconds, results[bit])
            m = scorer = None  # free this copy before loading the next one
    if 32 in results:
        reference = {i: (s.word_scores, s.prompt_ppl) for i, s in results[32][1].items()}
        compare("32-bit checkpoint vs GGUF fp32", reference, {i: fp32_gguf[i] for i in reference}, prompt)
        if 8 in results:
            print(f"8-bit / 32-bit time = {results[8][0] / results[32][0]:.2f}x")
            compare("8-bit vs 32-bit", reference, results[8][1], prompt)
