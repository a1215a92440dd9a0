"""Answer labelled datasets with one LLM and one or more prompts; save verbalizer scores, predictions, perplexity.

Examples (the reference's command; then every prompt on two sets, the model loaded once):
    python run_llm_inference.py --model=llama-13b --dataset_name=sst2 --prompt_number=0 --bit=8 \
        --save_path=./result/llm/llama-13b_sst2_0
    python run_llm_inference.py --model=llama-13b --dataset_name=sst2,cb --prompt_number=0-12 --bit=8 \
        --save_path=./result/llm/llama-13b/{dataset}_p{prompt}

With several datasets or prompts, each (dataset, prompt) gets the file its placeholders name, and
each is written, resumed and refused as if it had been run alone; one that fails (e.g. its local
data is missing) is reported at the end and the others are written (llm_inference/runs.py).

Output `--save_path` (".json" appended when missing), written atomically at the end of its run:

    {"prompt_index", "prompt_info", "task", "dataset", "model", "bit", "verbalizer_tokens",
     "chat_template": {"source", "sha256"}, "chat_template_sha256", "seed", "variant", "cot",
     "cot_max_new_tokens" (CoT prompts only), "data" (which data: data_utils/artifacts/data_identity.py;
     a declared dataset's digest is also part of the run's identity, as data_digest),
     "summary": {"accuracy", "macro_f1", "num_examples", "labels", "unscored_answers",
                 "non_verbalizer_answers", "non_verbalizer_words",
                 "split": {"rows", "examples", "no_gold_label", "empty_input", "empty_rows"}},
     "results": [one per example, sorted by data_index:
        {"data_index", "data_entry", "input_prompt",
         "token_info": {"word_scores", "verbalizers", "answer_step", "answer", "answer_scored",
                        "first_word", "first_word_is_verbalizer"},
         "prompt_ppl", "label_scores", "normalized_prob", "normalized_pred", "normalized_answer",
         "chat_history" (CoT prompts only)}]}

The sample is drawn from the split's usable examples; summary.split counts the whole split: its rows, the
usable examples, and the rows left out for no gold label, an empty input or every cell empty (a split with
more than 10% without a gold label, or with one input empty, is refused whatever --max_examples).
label_scores / normalized_prob / normalized_pred / normalized_answer use the genre's one
label order (SA: negative, positive; NLI: entailment, neutral, contradiction), or a declared
dataset's own labels when it brings its own verbalizers (summary.labels names the order).
answer_scored is false when the model's answer token spells a verbalizer under another id
than the one scored (a warning says so; summary.unscored_answers counts them).
first_word_is_verbalizer is false when the answer's first word (first_word, e.g. "The") is
no verbalizer of the prompt: the scores were read where the model wrote something else.
summary.non_verbalizer_answers counts them (non_verbalizer_words: the most common such
words), and a warning says so when they are more than half of the examples. While it
runs, finished examples go to `<save_path>.partial.jsonl` (appended after every batch);
a rerun continues from there. The output is written atomically, then its record
`<save_path without .json>.record.json`, its completion marker (pending while the output
is written: data_utils/artifacts/completion.py); then the partial file is removed. A save
path holding another run's results is refused: another model, dataset, prompt, bit width,
verbalizer_tokens, chat template (by the SHA-256 of its text) or (CoT prompts) cot_max_new_tokens, an example whose text differs from
this run's (another --dataset_path), or results of examples outside this run's sample
(another --max_examples or --seed): finished results are never dropped, unless --overwrite True
asks to score every example again. A finished output is not written again by a later run of the
same examples (its record keeps its time, so what was made from it stays current). While a
command runs it holds the lock of each of its outputs: a second command writing one of them is
refused, naming the first.
"""
from __future__ import annotations

import argparse
import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from data_utils import cli
from data_utils.artifacts.completion import begin, fresh_start, record_path, recorded, writing
from data_utils.artifacts.data_identity import describe
from data_utils.artifacts.paths import DATASET_FIELD, PROMPT_FIELD
from data_utils.errors import FuteError
from data_utils.io import check_writable, read_json, run_record, write_json
from data_utils.metrics import compute_metrics
from llm_inference.options import add_llm_args, check_llm_args, check_placeholders, fill, prompt_numbers
from llm_inference.records import (ResultLog, answer_counts, check_identity, check_same_inputs, example_record,
                                   prompt_info, warn_non_verbalizer)

logger = logging.getLogger(__name__)

INPUT_FLAGS = "--dataset_path, --max_examples or --seed"


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
    from llm_inference.models import load_chat_tokenizer
    from llm_inference.runs import LazyModel, check_verbalizers, run_each
    from llm_inference.scoring import generation_settings

    specs = [get_llm_spec(name) for name in args.dataset_name]
    settings = generation_settings(args.cot_max_new_tokens)
    device = cli.start(args)
    tokenizer, template = load_chat_tokenizer(args.model, args.chat_template)
    check_verbalizers(tokenizer, [dataset_prompt(spec, number) for spec in specs for number in args.prompt_number],
                      args.verbalizer_tokens)
    model = LazyModel(args.model, args.bit, device)
    runs = [(fill(args.save_path, spec.name, number),
             functools.partial(run_one, args, argv, spec, number, tokenizer, template, settings, model, device))
            for spec in specs for number in args.prompt_number]
    with writing(*(path for path, _ in runs)):
        outputs = run_each(runs)
    logger.info("%d output(s), the model loaded %d time(s)", len(outputs), model.loads)
    return outputs[0] if len(runs) == 1 else outputs


def run_one(args: argparse.Namespace, argv: Sequence[str] | None, spec, number: int, tokenizer, template,
            settings, model: LazyModel, device) -> dict[str, Any]:
    """One (dataset, prompt): score its sample, write its output JSON and record, return the output."""
    from data_utils.artifacts.llm_outputs import inference_output
    from llm_inference.data import dataset_prompt, load_eval_examples
    from llm_inference.runs import run_identity, score_pending

    prompt = dataset_prompt(spec, number)
    save_path = check_writable(fill(args.save_path, spec.name, number))
    dataset_path = None if args.dataset_path is None else fill(args.dataset_path, spec.name)

    # Earlier work: the finished JSON (if any, of this same run) and the partial log of a killed run; none
    # with --overwrite True. A declared dataset's identity includes its data (declaration and files), so results
    # of an edited one are refused.
    examples, split_counts = load_eval_examples(spec, prompt.fields, dataset_path, args.max_examples, args.seed)
    data = describe(spec, dataset_path)
    subject = {"dataset": spec.name, **({"data_digest": data["digest"]} if spec.declaration else {})}
    identity = run_identity(args, prompt, template, settings, subject)
    config = {**vars(args), "dataset_name": spec.name, "prompt_number": number, "save_path": str(save_path),
              "dataset_path": dataset_path, "data": data}
    log = ResultLog(f"{save_path}.partial.jsonl", identity)
    if fresh_start(save_path, run_record(config, argv, __file__), args.overwrite):
        log.path.unlink(missing_ok=True)
        done = {}
    else:
        done = _finished_results(save_path, identity)
        done.update(log.load())

    # Only what is not done yet of the sample is scored. Earlier results must be of this very sample: the output
    # holds exactly it, and none is dropped.
    check_same_inputs(done, examples, str(save_path), INPUT_FLAGS)
    pending = [example for example in examples if example["data_index"] not in done]
    logger.info("%s: %d examples to score, %d already done", save_path, len(pending), len(examples) - len(pending))
    if not pending and recorded(save_path) and not log.path.exists():
        logger.info("%s: finished already, kept as it is", save_path)
        return read_json(save_path)

    score_pending(pending, log, done, model, tokenizer, prompt, settings, args.verbalizer_tokens, args.batch_size,
                  lambda example, score: _record(example, score, prompt), desc=f"{spec.name} prompt {prompt.number}")

    # Assemble the output in data order, with the summary metrics.
    results = [_strip_identity(done[example["data_index"]], identity) for example in examples]
    summary = {**_summary(results, prompt.labels, args.verbalizer_tokens), "split": split_counts}
    output = inference_output(identity, spec.llm_genre, prompt_info(prompt), template.record(), args.seed, summary,
                              results, data)
    record = run_record({**config, "device": str(device)}, argv, __file__)
    begin(save_path, record)  # its record, written last, marks the output finished
    write_json(save_path, output)
    write_json(record_path(save_path), record)
    log.path.unlink(missing_ok=True)
    logger.info("%s: accuracy %.4f, macro-F1 %.4f on %d examples (%d answers begin with no verbalizer)", save_path,
                summary["accuracy"], summary["macro_f1"], len(results), summary["non_verbalizer_answers"])
    warn_non_verbalizer(f"{save_path} (prompt {prompt.number})", summary, len(results))
    return output


def _finished_results(save_path: Path, identity: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """data_index -> result of an earlier finished run at save_path; another run's file is refused."""
    if not save_path.is_file():
        return {}
    earlier = read_json(save_path)
    if not isinstance(earlier, dict) or not isinstance(earlier.get("results"), list):
        raise FuteError(f"{save_path} exists and is not an output of this script; use another --save_path")
    check_identity(earlier, identity, str(save_path))
    return {result["data_index"]: result for result in earlier["results"]}


def _record(example: dict[str, Any], score, prompt) -> dict[str, Any]:
    from llm_inference.scoring import label_distribution

    record = example_record(example, score, label_distribution(score.word_scores, prompt))
    record["normalized_answer"] = example["label"]
    return record


def _strip_identity(record: dict[str, Any], identity: dict[str, Any]) -> dict[str, Any]:
    """A result as the output lists it: the run's identity is said once, at the top."""
    return {key: value for key, value in record.items() if key not in identity}


def _summary(results: list[dict[str, Any]], labels: tuple[str, ...], verbalizer_tokens: str) -> dict[str, Any]:
    predictions = [result["normalized_pred"] for result in results]
    gold = [result["normalized_answer"] for result in results]
    return {**compute_metrics(("accuracy", "macro_f1"), predictions, gold),
            "num_examples": len(results), "labels": list(labels), **answer_counts(results, verbalizer_tokens)}


if __name__ == "__main__":
    cli.exit_with(main)
