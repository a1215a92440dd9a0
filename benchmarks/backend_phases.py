"""The backend comparison of bench_llm.py: the llama.cpp backend against the transformers one on the same GGUF file,
the same examples and the same prompts, in one run.

(d) load the GGUF file into llama.cpp (the transformers load is bench_llm.py's first row);
(e) scoring (the y' phase, vanilla prompt): PromptScorer.score_all on the llama.cpp decoder, against (b);
(f) llama.cpp's floor: one evaluation of each formatted prompt (with the prefix cache (e) keeps) and nothing else;
(g) chain-of-thought (SA prompt 10, reasoning capped at --cot_tokens) on --n_cot examples, on each backend: the
    reasoning turn, then the scored answer turn, as run_llm_inference.py runs it.
"""
from __future__ import annotations

from environment import smollm2_gguf  # first: puts the repository on sys.path

from llm_inference.llamacpp import LlamaCppDecoder, load_llama  # noqa: E402
from llm_inference.prompts import load_prompt  # noqa: E402
from llm_inference.scoring import PromptScorer, generation_settings  # noqa: E402
from llm_phases import compare, row, score_b  # noqa: E402
from measure import measure  # noqa: E402


def llamacpp_vs_transformers(model, tokenizer, prompt, examples: list[dict], batch_size: int, ours: dict,
                             seconds_b: float, n_cot: int, cot_tokens: int) -> None:
    """Print (d)-(g) beside the transformers figures: `ours`, `seconds_b` are (b)'s scores and time on `examples`."""
    gguf = str(smollm2_gguf())
    seconds, peak, decoder = measure(lambda: LlamaCppDecoder(load_llama(gguf), tokenizer, gguf))
    row("(d) load GGUF into llama.cpp", None, seconds, peak)

    scorer = PromptScorer(decoder, tokenizer, prompt)
    score_b(scorer, examples[:2], batch_size)  # warm-up
    seconds_e, peak, cpp = measure(lambda: score_b(scorer, examples, batch_size))
    n = len(examples)
    row("(e) llama.cpp PromptScorer.score_all", n, seconds_e, peak)
    prompts = [decoder.encode(scorer.first_turn(e["fields"])[1]) for e in examples]

    def one_pass() -> None:
        decoder.llama.reset()
        for ids in prompts:
            decoder.prefill(ids)

    seconds_f, peak, _ = measure(one_pass)
    row("(f) llama.cpp floor: one prompt pass each", n, seconds_f, peak)
    print(f"(e)/(b) = {seconds_b / seconds_e:.2f}x the transformers backend's scoring speed (goal >= 3); "
          f"(e)/(f) = {seconds_f / seconds_e:.2f} of llama.cpp's floor")
    compare("(e) vs (b)", {i: (r.word_scores, r.prompt_ppl) for i, r in ours.items()}, cpp, prompt)

    cot = load_prompt(prompt.genre, 10)
    settings = generation_settings(cot_max_new_tokens=cot_tokens)
    few = [e["fields"] for e in examples[:n_cot]]
    timings = {}
    for name, decoding in (("transformers", model), ("llama.cpp", decoder)):
        cot_scorer = PromptScorer(decoding, tokenizer, cot, settings)
        seconds, peak, results = measure(lambda: [r for _, chunk in cot_scorer.score_all(
            [{"fields": f} for f in few], batch_size) for r in chunk])
        reasoning = sum(len(tokenizer(r.chat_history[-3]["content"], add_special_tokens=False)["input_ids"])
                        for r in results)
        timings[name] = seconds
        row(f"(g) CoT {name}, <= {cot_tokens} reasoning tokens", len(few), seconds, peak)
        print(f"    {reasoning / seconds:.1f} reasoning tokens/s ({reasoning} in all)")
    print(f"(g) llama.cpp / transformers = {timings['transformers'] / timings['llama.cpp']:.2f}x (goal >= 3)")
