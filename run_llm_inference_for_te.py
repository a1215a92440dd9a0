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

Output `--save_path` (".jsonl" appended when missing): one JSON object per line, appended
and flushed after every batch, in the order examples finish (NOT sorted: sort by data_index):

    {"model", "task_genre", "prompt_index", "bit",        # the run's identity (a mismatch is refused),
     "verbalizer_tokens",                                 # with how a verbalizer is scored: single | first,
     "chat_template_sha256",                              # the SHA-256 of the chat template's text
     "cot_max_new_tokens",                                # and the reasoning cap: CoT prompts (10-12) only
     "seed", "cot", "variant", "prompt_info",             # prompt_info.answer_choices: label -> verbalizers
     "data_index",                                        # the x' line's data_index
     "content" | "premise", "hypothesis",                 # the x' text fields, unchanged
     "data_entry": {"text" | "premise", "hypothesis", "answer": "none"},
     "input_prompt",                                      # the formatted first-turn prompt
     "token_info": {"word_scores": [float], "verbalizers": [str], "answer_step": int | null, "answer": str,
                    "answer_scored": bool,                 # false: the answer is a verbalizer under an unscored id
                    "first_word": str,                     # the answer's first word, e.g. "yes" or "The"
                    "first_word_is_verbalizer": bool},     # false: the scores are not the model's answer
     "prompt_ppl": float,
     "label_scores": [float], "normalized_prob": [float], "normalized_pred": int,
     "chat_history": [{"role", "content"}, ...]}          # CoT prompts (10-12) only

word_scores[i] is the processed score of verbalizers[i] at the answer step (see
llm_inference/scoring.py); label_scores, normalized_prob (softmax of label_scores: the soft
label y') and normalized_pred use the genre's label order, `prompt_info.labels`
(sa: negative, positive; nli: entailment, neutral, contradiction). A rerun skips the
data_index values already in the file; a half-written last line of a killed run is cut
away (with a warning) before the file is read. A line of another run is refused, and so is
one made from another x' file (its data_index is not in --data_load_path, or its text differs).

Beside the output, `<save_path without .jsonl>.record.json` says how it was made (command,
flags, package versions, line count, the chat template's source and hash, the number of
unscored answers and of answers whose first word is no verbalizer, with the most common such
words: more than half of them is warned about in the log) and, under "answers", what the
finished file is (its lines and size) and the x' it answers (path, lines, SHA-256). It is
the file's completion marker (data_utils/artifacts/completion.py): pending (`"finished":
false`, with the command) from before the first line is appended until every x' line is
answered. A reader may rely on a file whose record matches it. A file that answers every x'
line already is left as it is, record included (so what was made from it stays current);
--overwrite True answers every line again. While a command runs it holds the lock of each of
its files: a second command appending to one of them is refused, naming the first, and a file
holding a data_index twice (two runs of an earlier version appending at once) is refused.
"""
from __future__ import annotations

import argparse
import functools
import logging
from collections.abc import Sequence
from typing import Any

from configs.datasets import GENRES
from data_utils import cli
from data_utils.artifacts.completion import answers_entry, begin, fresh_start, record_path, recorded, writing
from data_utils.artifacts.paths import PROMPT_FIELD
from data_utils.io import run_record, write_json
from llm_inference.options import add_llm_args, check_llm_args, check_placeholders, fill, prompt_numbers
from llm_inference.records import (ResultLog, answer_counts, check_same_inputs, example_record, prompt_info,
                                   warn_non_verbalizer)

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
    from llm_inference.data import read_model_inputs
    from llm_inference.models import load_chat_tokenizer
    from llm_inference.prompts import load_prompt
    from llm_inference.runs import LazyModel, check_verbalizers, run_each
    from llm_inference.scoring import generation_settings

    settings = generation_settings(args.cot_max_new_tokens)
    device = cli.start(args)
    tokenizer, template = load_chat_tokenizer(args.model, args.chat_template)
    check_verbalizers(tokenizer, [load_prompt(args.task_genre, number) for number in args.prompt_number],
                      args.verbalizer_tokens)
    examples = read_model_inputs(args.data_load_path, args.task_genre)
    model = LazyModel(args.model, args.bit, device)
    runs = [(fill(args.save_path, prompt=number),
             functools.partial(answer_one, args, argv, number, examples, tokenizer, template, settings, model, device))
            for number in args.prompt_number]
    with writing(*(path for path, _ in runs)):
        added = run_each(runs)
    logger.info("%d y' file(s), the model loaded %d time(s)", len(added), model.loads)
    return sum(added)


def answer_one(args: argparse.Namespace, argv: Sequence[str] | None, number: int, examples: list[dict[str, Any]],
               tokenizer, template, settings, model: LazyModel, device) -> int:
    """One prompt: append the y' lines its file lacks, rewrite its record; return how many were added."""
    from llm_inference.prompts import load_prompt
    from llm_inference.runs import run_identity, score_pending

    prompt = load_prompt(args.task_genre, number)
    save_path = fill(args.save_path, prompt=number)

    # What is done already (a torn last line is repaired; another run's file is refused; none with
    # --overwrite True); earlier lines must come from this same x' file.
    log = ResultLog(save_path, run_identity(args, prompt, template, settings, {"task_genre": args.task_genre}))
    config = {**vars(args), "prompt_number": number, "save_path": str(log.path), "device": str(device)}
    if fresh_start(log.path, run_record(config, argv, __file__), args.overwrite):
        log.path.unlink(missing_ok=True)
    done = log.load()
    check_same_inputs(done, examples, str(log.path), "--data_load_path")
    pending = [example for example in examples if example["data_index"] not in done]
    logger.info("%s: %d x' lines, %d already answered", log.path, len(examples), len(examples) - len(pending))
    if not pending and recorded(log.path):
        logger.info("%s: finished already, kept as it is", log.path)
        return 0
    begin(log.path, run_record(config, argv, __file__))  # the file changes: unfinished until its record is written

    run_settings = {"seed": args.seed, "cot": prompt.is_cot, "variant": None, "prompt_info": prompt_info(prompt)}
    score_pending(pending, log, done, model, tokenizer, prompt, settings, args.verbalizer_tokens, args.batch_size,
                  lambda example, score: _line(example, score, prompt, run_settings),
                  desc=f"{args.task_genre} prompt {prompt.number}")
    logger.info("%s: %d lines added", log.path, len(pending))

    # The record of how the y' file was made, written last (a separate file, so the JSONL holds only y' lines):
    # what the file is when finished, and the x' it answers.
    counts = answer_counts(done.values(), args.verbalizer_tokens)
    warn_non_verbalizer(f"{log.path} (prompt {prompt.number})", counts, len(done))
    config.update(lines=len(examples), chat_template=template.record(), **counts)
    answers = answers_entry(log.path, args.data_load_path, len(done), len(examples))
    write_json(record_path(log.path), {**run_record(config, argv, __file__), "answers": answers})
    return len(pending)


def _line(example: dict[str, Any], score, prompt, settings: dict[str, Any]) -> dict[str, Any]:
    from data_utils.artifacts.llm_outputs import answer_line
    from llm_inference.scoring import label_distribution

    result = example_record(example, score, label_distribution(score.word_scores, prompt))
    inputs = {key: value for key, value in example["inputs"].items() if key != "data_index"}
    return answer_line(settings, example["data_index"], inputs, result)


if __name__ == "__main__":
    cli.exit_with(main)
