"""Answer labelled datasets with one LLM and one or more prompts; save verbalizer scores, predictions, perplexity.

Examples (the reference's command; then every prompt on two sets, the model loaded once):
    python run_llm_inference.py --model=llama-13b --dataset_name=sst2 --prompt_number=0 --bit=8 \
        --save_path=./result/llm/llama-13b_sst2_0
    python run_llm_inference.py --model=llama-13b --dataset_name=sst2,cb --prompt_number=0-12 --bit=8 \
        --save_path=./result/llm/llama-13b/{dataset}_p{prompt}

With several datasets or prompts, each (dataset, prompt) gets the file its placeholders name, and
each is written, resumed and refused as if it had been run alone; one that fails (e.g. its local
data is missing) is reported at the end and the others are written (llm_inference/runs.py).

Output `--save_path` (".json" appended when missing), written atomically at the end of its run: the inference
file of data_utils/artifacts/llm_outputs.py (the run's identity, prompt, settings, summary, and one result per
example, sorted by data_index: the verbalizer scores, the answer, prompt_ppl and the label view
label_scores / normalized_prob / normalized_pred / normalized_answer in the genre's label order, or a declared
dataset's own labels when it brings its own verbalizers: summary.labels names the order).

The sample is drawn from the split's usable examples; summary.split counts the whole split: its rows, the
usable examples, and the rows left out for no gold label, an empty input or every cell empty (a split with
more than 10% without a gold label, or with one input empty, is refused whatever --max_examples).
answer_scored is false when the model's answer token spells a verbalizer under another id than the one scored;
first_word_is_verbalizer is false when the answer's first word (first_word, e.g. "The") is no verbalizer of the
prompt: the scores were read where the model wrote something else (summary.unscored_answers,
non_verbalizer_answers and non_verbalizer_words count them; a warning says so when they are more than half).
A thinking model's answer is read after its reasoning block (--max_thinking_tokens; token_info.thinking);
a block left open leaves its example unscored (summary.unclosed_thinking, docs/scripts.md).

While it runs, finished examples go to `<save_path>.partial.jsonl` (appended after every batch); a rerun
continues from there. The output is written, then its record `<save_path without .json>.record.json`, its
completion marker (data_utils/artifacts/completion.py); then the partial file is removed. A save path holding
another run's results is refused: another model, dataset, prompt, bit width, verbalizer_tokens, chat template
(by the SHA-256 of its text), (CoT prompts) cot_max_new_tokens or (models with reasoning tags)
max_thinking_tokens, an example whose text differs from this run's
(another --dataset_path), or results of examples outside this run's sample (another --max_examples or --seed):
finished results are never dropped, unless --overwrite True asks to score every example again. A finished
output is not written again by a later run of the same examples (llm_inference/run_outputs.py). While a command
runs it holds the lock of each of its outputs: a second command writing one of them is refused, naming the first.
"""
from __future__ import annotations

import argparse
import functools
import logging
from collections.abc import Sequence
from typing import Any

from data_utils import cli
from data_utils.artifacts.completion import writing
from data_utils.artifacts.paths import DATASET_FIELD, PROMPT_FIELD
from llm_inference.options import add_llm_args, check_llm_args, check_placeholders, fill, prompt_numbers

logger = logging.getLogger(__name__)

def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(description="Run one LLM with one or more prompts (0-12) on labelled datasets.")
    parser.add_argument("--save_path", required=True,
                        help="output JSON ('.json' is appended if missing); with several datasets or prompts it "
                             "names each file with {dataset} and {prompt}, e.g. ./result/{dataset}_p{prompt}")
    parser.add_argument("--dataset_name", type=cli.csv_list, required=True,
                        help="sst2, imdb, rotten_tomatoes, cb, anli or wanli, or a declaration file (.yaml, .yml, "
                             ".json) with an llm entry (docs/your_data.md); several comma-separated")
    parser.add_argument("--prompt_number", type=prompt_numbers, required=True,
                        help="prompt 0-12 of the dataset's genre (10-12 are prompts 0-2 with chain-of-thought); "
                             "several as 0,3,10 or 0-12: the model is loaded once for all")
    parser.add_argument("--max_examples", type=int, default=1000,
                        help="score a seeded sample of at most this many examples of the evaluation split")
    parser.add_argument("--dataset_path", default=None,
                        help="local data instead of the declared files or the hub: a folder with <eval split>.jsonl "
                             "(json/csv/parquet) or that one file, with the dataset's field names; {dataset} with "
                             "several (default: the declared files or the hub)")
    add_llm_args(parser)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    args.save_path = cli.with_suffix(args.save_path, ".json")
    check_llm_args(args)
    several_datasets = len(args.dataset_name) > 1
    check_placeholders("--save_path", args.save_path, DATASET_FIELD, several_datasets)
    check_placeholders("--save_path", args.save_path, PROMPT_FIELD, len(args.prompt_number) > 1)
    check_placeholders("--dataset_path", args.dataset_path, DATASET_FIELD, several_datasets)
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | list[dict[str, Any]]:
    """Score every (dataset, prompt), write each output JSON; return the output (one dataset and prompt)
    or the outputs in (dataset, prompt) order (several)."""
    args = parse_args(argv)
    # torch, transformers and pandas load here, once the flags are known to be good (--help stays fast).
    from llm_inference.data import dataset_prompt, get_llm_spec
    from llm_inference.run_outputs import score_dataset
    from llm_inference.runs import open_session, run_each

    specs = [get_llm_spec(name) for name in args.dataset_name]
    session = open_session(args, argv, __file__,
                           [dataset_prompt(spec, number) for spec in specs for number in args.prompt_number])
    runs = [(fill(args.save_path, spec.name, number), functools.partial(score_dataset, session, spec, number))
            for spec in specs for number in args.prompt_number]
    with writing(*(path for path, _ in runs)):
        outputs = run_each(runs)
    logger.info("%d output(s), the model loaded %d time(s)", len(outputs), session.model.loads)
    return outputs[0] if len(runs) == 1 else outputs


if __name__ == "__main__":
    cli.exit_with(main)
