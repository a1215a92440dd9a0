"""Two backends' inference files of the same runs, side by side: how often they agree, and how far apart they are.

    python benchmarks/compare_backends.py A_{prompt}.json B_{prompt}.json --prompts 0,4,10

For each prompt: the examples, how many predict the same label, answer at the same step and write the same answer
(and, for CoT prompts, the same reasoning), the largest difference of normalized_prob, the largest relative
difference of prompt_ppl, and the largest difference of B's verbalizer scores from A's less A's log-sum-exp over
them (0 up to rounding when B is vLLM and A another backend: llm_inference/vllm_backend.py).
"""
from __future__ import annotations

import argparse
import json
import math


def logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def compare(a_path: str, b_path: str) -> str:
    with open(a_path, encoding="utf-8") as a_file, open(b_path, encoding="utf-8") as b_file:
        a, b = json.load(a_file)["results"], json.load(b_file)["results"]
    pairs = list(zip(a, b, strict=True))
    same = {key: sum(x["token_info"][key] == y["token_info"][key] for x, y in pairs) for key in ("answer_step",
                                                                                             "answer")}
    pred = sum(x["normalized_pred"] == y["normalized_pred"] for x, y in pairs)
    history = sum(x.get("chat_history") == y.get("chat_history") for x, y in pairs)
    prob = max(abs(u - v) for x, y in pairs for u, v in zip(x["normalized_prob"], y["normalized_prob"]))
    ppl = max(abs(y["prompt_ppl"] / x["prompt_ppl"] - 1) for x, y in pairs)
    shifted = max(abs(u - logsumexp(x["token_info"]["word_scores"]) - v) for x, y in pairs
                  for u, v in zip(x["token_info"]["word_scores"], y["token_info"]["word_scores"]) if u > -1e4)
    return (f"{len(pairs)} examples: same prediction {pred}, answer step {same['answer_step']}, answer "
            f"{same['answer']}, history {history}; max |d prob| {prob:.1e}, max ppl rel. diff {ppl:.1e}, max |B "
            f"score - (A score - logsumexp A)| {shifted:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="backend A's files, with {prompt} where the prompt number goes")
    parser.add_argument("b", help="backend B's files, likewise")
    parser.add_argument("--prompts", default="0,4,10", help="comma-separated prompt numbers")
    args = parser.parse_args()
    for prompt in args.prompts.split(","):
        print(f"prompt {prompt}: {compare(args.a.replace('{prompt}', prompt), args.b.replace('{prompt}', prompt))}")


if __name__ == "__main__":
    main()
