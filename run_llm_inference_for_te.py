"""Answer the model-task-embedding inputs x' with one LLM and one or more prompts: a y' JSONL per prompt.

Examples (the reference's command; then all 13 prompts, the model loaded once):
    python run_llm_inference_for_te.py --model=llama-13b --prompt_number=0 --task_genre=sa --bit=8 \
        --data_load_path=./result/mte_data/sa_x.jsonl --save_path=./result/mte_data/llama-13b_sa_0
    python run_llm_inference_for_te.py --model=llama-13b --prompt_number=0-12 --task_genre=sa --bit=8 \
        --data_load_path=./result/mte_data/sa_x.jsonl --save_path=./result/mte_data/llama-13b_sa_p{prompt}

With several prompts each gets the file {prompt} names, resumed and refused as if it were run
alone; one that fails is reported at the end and the others are written (llm_inference/runs.py).

Input `--data_load_path`: the x' JSONL written by run_task_emb.py --generate_model_data_only,
one object per line: {"content", "data_index"} for sa, {"premise", "hypothesis", "data_index"}
for nli.

Output `--save_path` (".jsonl" appended when missing): one y' line per x' line (data_utils/artifacts/answers.py:
the run's identity and settings, the x' line's texts, the verbalizer scores, the answer, prompt_ppl and the
soft label y': normalized_prob, in the genre's label order prompt_info.labels), appended and flushed after every
batch, in the order examples finish (NOT sorted: sort by data_index). A rerun skips the data_index values
already in the file; a half-written last line of a killed run is cut away (with a warning) before the file is
read. A line of another run is refused, and so is one made from another x' file (its data_index is not in
--data_load_path, or its text differs).

Beside the output, `<save_path without .jsonl>.record.json` says how it was made (command, flags, package
versions, line count, the chat template's source and hash, the number of unscored answers and of answers whose
first word is no verbalizer, with the most common such words: more than half of them is warned about in the
log) and, under "answers", what the finished file is (its lines and size) and the x' it answers (path, lines,
SHA-256). It is the file's completion marker (data_utils/artifacts/completion.py): pending from before the first
line is appended until every x' line is answered. A file that answers every x' line already is left as it is,
record included; --overwrite True answers every line again. While a command runs it holds the lock of each of
its files: a second command appending to one of them is refused, naming the first.
"""
from __future__ import annotations

import argparse
import functools
import logging
from collections.abc import Sequence

from configs.datasets import GENRES
from data_utils import cli
from data_utils.artifacts.completion import writing
from data_utils.artifacts.paths import PROMPT_FIELD
from llm_inference.options import add_llm_args, check_llm_args, check_placeholders, fill, prompt_numbers

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(description="Run one LLM with one or more prompts on the x' JSONL of model "
                                              "task embedding; append its answers y' as JSONL, a file per prompt.")
    parser.add_argument("--save_path", required=True,
                        help="output JSONL ('.jsonl' is appended if missing); with several prompts it names each "
                             "file with {prompt}, e.g. ./result/llama-13b_sa_p{prompt}")
    parser.add_argument("--data_load_path", required=True, help="the x' JSONL to answer")
    parser.add_argument("--prompt_number", type=prompt_numbers, required=True,
                        help="prompt 0-12 of --task_genre (10-12 are prompts 0-2 with chain-of-thought); several as "
                             "0,3,10 or 0-12: the model is loaded once for all")
    parser.add_argument("--task_genre", required=True, choices=GENRES, help="sa (sentiment) or nli")
    add_llm_args(parser)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    args.save_path = cli.with_suffix(args.save_path, ".jsonl")
    check_llm_args(args)
    check_placeholders("--save_path", args.save_path, PROMPT_FIELD, len(args.prompt_number) > 1)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Append a y' line for every x' line not yet in each prompt's file; return how many were added in all."""
    args = parse_args(argv)
    # torch, transformers and pandas load here, once the flags are known to be good (--help stays fast).
    from data_utils.artifacts.model_inputs import read_model_inputs
    from llm_inference.data import input_examples
    from llm_inference.prompts import load_prompt
    from llm_inference.run_outputs import answer_inputs
    from llm_inference.runs import open_session, run_each

    prompts = [load_prompt(args.task_genre, number) for number in args.prompt_number]
    session = open_session(args, argv, __file__, prompts)
    examples = input_examples(read_model_inputs(args.data_load_path, args.task_genre), args.task_genre)
    runs = [(fill(args.save_path, prompt=number), functools.partial(answer_inputs, session, number, examples))
            for number in args.prompt_number]
    with writing(*(path for path, _ in runs)):
        added = run_each(runs)
    logger.info("%d y' file(s), the model loaded %d time(s)", len(added), session.model.loads)
    return sum(added)


if __name__ == "__main__":
    cli.exit_with(main)
