"""What one run of each LLM entry script writes, from its `Session` (llm_inference/runs.py): the inference file
of one (dataset, prompt) for run_llm_inference.py (`score_dataset`), the y' file of one prompt for
run_llm_inference_for_te.py (`answer_inputs`). The files' layouts: data_utils/artifacts/llm_outputs.py and
answers.py.

Both resume: only what is not done yet is scored, and earlier results must be of this run (its identity) and of
these very inputs (`check_same_inputs`); --overwrite True starts afresh. Each output's record is written last
(data_utils/artifacts/completion.py): pending while the output changes, so a kill never leaves it looking done.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from data_utils.artifacts.answers import AnswerLine
from data_utils.artifacts.completion import AnswersEntry, begin, fresh_start, recorded
from data_utils.artifacts.data_identity import describe
from data_utils.artifacts.llm_outputs import InferenceFile, read_finished_results, write_inference_file
from data_utils.artifacts.llm_records import LoggedResult, as_json
from data_utils.artifacts.paths import partial_log_path, record_path
from data_utils.artifacts.result_log import ResultLog
from data_utils.io import check_writable, read_json, write_json
from llm_inference.data import dataset_prompt, load_eval_examples
from llm_inference.options import fill
from llm_inference.prompts import load_prompt
from llm_inference.records import (answer_counts, check_same_inputs, inference_summary, prompt_info,
                                   warn_non_verbalizer)
from llm_inference.runs import Session, run_identity, score_pending

logger = logging.getLogger(__name__)

# The flags that choose a labelled run's examples, and an answering run's x'.
SAMPLE_FLAGS, INPUT_FLAG = "--dataset_path, --max_examples or --seed", "--data_load_path"


def score_dataset(session: Session, spec, number: int) -> dict[str, Any]:
    """One (dataset, prompt): score its sample, write its inference file and record; return the file's content.

    The earlier work is the finished file (if any, of this same run) and the partial log of a killed run; a
    declared dataset's identity includes its data (declaration and files), so results of an edited one are
    refused. A finished file of the same examples is kept as it is (its record keeps its time)."""
    args = session.args
    prompt = dataset_prompt(spec, number)
    save_path = check_writable(fill(args.save_path, spec.name, number))
    dataset_path = None if args.dataset_path is None else fill(args.dataset_path, spec.name)
    examples, split_counts = load_eval_examples(spec, prompt.fields, dataset_path, args.max_examples, args.seed)
    data = describe(spec, dataset_path)
    digest = data["digest"] if spec.declaration else None
    identity = run_identity(session, prompt, dataset=spec.name, data_digest=digest)
    config = {"dataset_name": spec.name, "prompt_number": number, "save_path": str(save_path),
              "dataset_path": dataset_path, "data": data}
    log = ResultLog(partial_log_path(save_path), identity)
    if fresh_start(save_path, session.record(**config), args.overwrite):
        log.path.unlink(missing_ok=True)
        done = {}
    else:
        done = read_finished_results(save_path, identity)
        done.update(log.load())
    check_same_inputs(done, examples, str(save_path), SAMPLE_FLAGS)
    pending = [example for example in examples if example["data_index"] not in done]
    logger.info("%s: %d examples to score, %d already done", save_path, len(pending), len(examples) - len(pending))
    if not pending and recorded(save_path) and not log.path.exists():
        logger.info("%s: finished already, kept as it is", save_path)
        return read_json(save_path)

    score_pending(session, pending, log, done, prompt, lambda _, result: LoggedResult(identity=identity, result=result),
                  desc=f"{spec.name} prompt {prompt.number}")

    # The output lists the results in data order, under the run's identity (said once) and its summary.
    results = [done[example["data_index"]] for example in examples]
    summary = inference_summary(results, prompt.labels, args.verbalizer_tokens, split_counts)
    output = InferenceFile(prompt_info=prompt_info(prompt), task=spec.llm_genre, identity=identity,
                           chat_template=session.template.record(), seed=args.seed, cot=prompt.is_cot,
                           summary=summary, results=results, data=data)
    record = session.record(**config, device=str(session.device))
    begin(save_path, record)  # its record, written last, marks the output finished
    content = write_inference_file(save_path, output)
    write_json(record_path(save_path), record)
    log.path.unlink(missing_ok=True)
    logger.info("%s: accuracy %.4f, macro-F1 %.4f on %d examples (%d answers begin with no verbalizer)", save_path,
                summary.accuracy, summary.macro_f1, len(results), summary.counts.non_verbalizer_answers)
    warn_non_verbalizer(f"{save_path} (prompt {prompt.number})", summary.counts, len(results))
    return content


def answer_inputs(session: Session, number: int, examples: list[dict[str, Any]]) -> int:
    """One prompt on x' (`examples`: llm_inference.data.input_examples): append the y' lines its file lacks, then
    its record; return how many lines were added. A torn last line is repaired, another run's file refused."""
    args = session.args
    prompt = load_prompt(args.task_genre, number)
    identity = run_identity(session, prompt, task_genre=args.task_genre)
    log = ResultLog(fill(args.save_path, prompt=number), identity)
    config = {"prompt_number": number, "save_path": str(log.path), "device": str(session.device)}
    if fresh_start(log.path, session.record(**config), args.overwrite):
        log.path.unlink(missing_ok=True)
    done = log.load()
    check_same_inputs(done, examples, str(log.path), INPUT_FLAG)
    pending = [example for example in examples if example["data_index"] not in done]
    logger.info("%s: %d x' lines, %d already answered", log.path, len(examples), len(examples) - len(pending))
    if not pending and recorded(log.path):
        logger.info("%s: finished already, kept as it is", log.path)
        return 0
    begin(log.path, session.record(**config))  # the file changes: unfinished until its record is written

    info = prompt_info(prompt)
    score_pending(session, pending, log, done, prompt,
                  lambda example, result: AnswerLine(identity=identity, seed=args.seed, cot=prompt.is_cot,
                                                     prompt_info=info, inputs=example["inputs"], result=result),
                  desc=f"{args.task_genre} prompt {prompt.number}")
    logger.info("%s: %d lines added", log.path, len(pending))

    # The record of how the y' file was made, written last (a file of its own, so the JSONL holds only y'
    # lines): what the file is when finished, and the x' it answers.
    counts = answer_counts(done.values(), args.verbalizer_tokens)
    warn_non_verbalizer(f"{log.path} (prompt {prompt.number})", counts, len(done))
    record = session.record(**config, lines=len(examples), chat_template=session.template.record(), **as_json(counts))
    answers = AnswersEntry.of_files(log.path, args.data_load_path, len(done), len(examples))
    write_json(record_path(log.path), {**record, "answers": asdict(answers)})
    return len(pending)
