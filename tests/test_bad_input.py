"""Every bad input a user can give an entry script: one error line naming the real cause (status 2), and nothing
left behind in the output folder.

Each case is (script, argv, expected part of the message); in argv, {t} is the test's folder (inputs written by
`inputs`), {out} the output folder that must not exist after the failure, {bert} / {llama} tiny models.
"""
from __future__ import annotations

import gzip
import json
import logging

import numpy as np
import pandas as pd
import pytest

from data_utils import cli
from data_utils.artifacts.embeddings import EmbeddingInfo, write_embedding
from test_cli import ROOT, load

SST2 = ROOT / "data" / "samples" / "sst2"


def inputs(t) -> None:
    """The bad (and the good) input files of the cases, under folder t."""
    def table(name: str, text: str = "", data: bytes | None = None):
        path = t / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode() if data is None else data)

    for folder, name, text in (("empty_csv", "train.csv", ""), ("header_only", "train.csv", "sentence,label\n"),
                               ("blank_jsonl", "train.jsonl", "\n\n"), ("empty_json", "train.json", ""),
                               ("no_rows_json", "train.json", "[]"), ("empty_tsv", "train.tsv", ""),
                               ("empty_parquet", "train.parquet", ""),
                               ("own_columns", "train.csv", "text,sentiment\nnice,pos\nbad,neg\n"),
                               ("own_labels", "train.csv", "sentence,label\nnice,pos\nbad,neg\n")):
        table(f"{folder}/{name}", text)
        if folder.startswith("own_"):
            table(f"{folder}/validation.csv", text)
    table("empty_gz/train.json.gz", data=gzip.compress(b""))
    pd.DataFrame({"sentence": pd.Series([], dtype=str), "label": pd.Series([], dtype="int64")}).to_parquet(
        t / "empty_parquet_rows.parquet")
    (t / "no_rows_parquet").mkdir()
    (t / "empty_parquet_rows.parquet").rename(t / "no_rows_parquet" / "train.parquet")
    table("empty_eval/validation.csv")
    for name in ("empty.jsonl", "empty.json", "fake.gguf", "a_file"):
        table(name)
    table("nli_x.jsonl", json.dumps({"premise": "a", "hypothesis": "b", "data_index": 0}) + "\n")
    table("exists/s.json", "{}")
    # 13 inference files, the first empty (a run that never wrote it).
    for prompt in range(13):
        table(f"inference/p{prompt}.json")
    # A plain fine-tune's score, and the DTE of its task: what `run_eval.py transfer` found in the issue.
    table("scores/sst2_score.json", json.dumps({"best": 0.9}))
    table("scores/sst2_score.record.json", json.dumps({"command": "run_cr_train.py", "config": {
        "to_train_dataset": "sst2", "source_dataset": None, "num_train_examples": 10}}))
    info = EmbeddingInfo(method="prefix-fute", family="prefix", fute=True, kind="DTE", dataset="sst2", genre=None,
                         model=None, llm=False, prompt=None, surrogate="s", seed=42, dim=3, dtype="float32")
    write_embedding(t / "emb" / "sst2_dte.npy", np.ones(3, dtype=np.float32), info, {"command": "x", "config": {}})


CR = ["--lm_model_name", "{bert}", "--score_save_path", "{out}/s", "--model_save_path", "{out}/ckpt"]
SST2_CR = ["--to_train_dataset", "sst2", *CR]
DTE = ["--save_path", "{out}/e", "--task_type", "cr", "--input_type", "data", "--task_emb_type", "prefix",
       "--to_train_dataset", "sst2", "--task_emb_model_lm_name", "{bert}"]
LLM_MTE = ["--save_path", "{out}/e", "--task_type", "sa", "--input_type", "model", "--task_emb_type", "prefix",
           "--llm_mode", "True", "--task_emb_model_lm_name", "{bert}"]
X_PRIME = ["--save_path", "{out}/x", "--task_type", "sa", "--input_type", "model", "--task_emb_type", "prefix",
           "--generate_model_data_only", "True", "--task_emb_model_lm_name", "{bert}"]
LLM = ["--save_path", "{out}/l", "--prompt_number", "0", "--bit", "32"]
Y_PRIME = ["--save_path", "{out}/y", "--model", "{llama}", "--prompt_number", "0", "--bit", "32", "--task_genre", "sa"]
PATHS = ",".join(f"{{t}}/inference/p{prompt}.json" for prompt in range(13))

CASES = [
    # Fine-tuning: unknown names, missing and empty files of every format, wrong columns and labels, bad paths.
    ("run_cr_train.py", ["--to_train_dataset", "mysent", *CR], "unknown dataset 'mysent' for run_cr_train.py"),
    ("run_cr_train.py", ["--to_train_dataset", "cq", *CR], "cq is a qa dataset, not cr: use run_qa_train.py"),
    ("run_qa_train.py", SST2_CR, "sst2 is a cr dataset, not qa: use run_cr_train.py"),
    ("run_cr_train.py", [*SST2_CR, "--dataset_path", "{t}/nope"], "--dataset_path {t}/nope does not exist"),
    ("run_cr_train.py", [*SST2_CR, "--dataset_path", "{t}/empty_csv"], "{t}/empty_csv/train.csv is empty (0 bytes)"),
    ("run_cr_train.py", [*SST2_CR, "--dataset_path", "{t}/header_only"],
     "{t}/header_only/train.csv holds no rows, only a header (sentence,label)"),
    ("run_cr_train.py", [*SST2_CR, "--dataset_path", "{t}/blank_jsonl"], "{t}/blank_jsonl/train.jsonl holds no rows"),
    ("run_cr_train.py", [*SST2_CR, "--dataset_path", "{t}/empty_json"], "{t}/empty_json/train.json is empty (0 bytes)"),
    ("run_cr_train.py", [*SST2_CR, "--dataset_path", "{t}/no_rows_json"], "{t}/no_rows_json/train.json holds no rows"),
    ("run_cr_train.py", [*SST2_CR, "--dataset_path", "{t}/empty_gz"], "{t}/empty_gz/train.json.gz holds no rows"),
    ("run_cr_train.py", [*SST2_CR, "--dataset_path", "{t}/empty_tsv"], "{t}/empty_tsv/train.tsv is empty (0 bytes)"),
    ("run_cr_train.py", [*SST2_CR, "--dataset_path", "{t}/empty_parquet"],
     "{t}/empty_parquet/train.parquet is empty (0 bytes)"),
    ("run_cr_train.py", [*SST2_CR, "--dataset_path", "{t}/no_rows_parquet"],
     "{t}/no_rows_parquet/train.parquet holds no rows"),
    ("run_cr_train.py", [*SST2_CR, "--dataset_path", "{t}/own_columns"],
     "has no field 'label' (fields: sentiment, text); local files must use the dataset's field names, or declare their "
     "columns in a dataset file of one's own"),
    ("run_cr_train.py", [*SST2_CR, "--dataset_path", "{t}/own_labels"],
     "has label 'pos', none of the labels (negative, positive) nor their indices 0..1; a dataset declared in a file of "
     "one's own maps other words to labels (label_values"),
    ("run_cr_train.py", ["--to_train_dataset", "sst2", "--dataset_path", str(SST2), "--lm_model_name", "{t}/no_model",
                         "--score_save_path", "{out}/s"], "model folder {t}/no_model (--lm_model_name) does not exist"),
    ("run_cr_train.py", [*SST2_CR, "--load_path", "{t}/no_checkpoint"], "--load_path {t}/no_checkpoint does not exist"),
    ("run_cr_train.py", ["--to_train_dataset", "sst2", "--lm_model_name", "{bert}", "--score_save_path",
                         "{t}/a_file/s"], "{t}/a_file is a file; choose another path"),
    ("run_cr_train.py", [*SST2_CR, "--batch_size", "30", "--gradient_accumulation_steps", "4"],
     "--batch_size 30 must be a multiple of --gradient_accumulation_steps 4"),
    ("run_cr_train.py", ["--to_train_dataset", "sst2", "--lm_model_name", "{bert}", "--score_save_path",
                         "{t}/exists/s"], "{t}/exists/s.json already exists; pass --overwrite True"),
    # Task embeddings: flags that do not go together, missing or empty inputs.
    ("run_task_emb.py", [*DTE, "--task_type", "qa"], "sst2 is a cr dataset; use --task_type cr"),
    ("run_task_emb.py", [*DTE, "--task_emb_model_lm_name", "{t}/no_model"],
     "model folder {t}/no_model (--task_emb_model_lm_name) does not exist"),
    ("run_task_emb.py", [*X_PRIME, "--task_emb_model_lm_name", "{t}/no_model"],
     "model folder {t}/no_model (--task_emb_model_lm_name) does not exist"),
    ("run_task_emb.py", [*DTE, "--dataset_path", "{t}/empty_csv"], "{t}/empty_csv/train.csv is empty (0 bytes)"),
    ("run_task_emb.py", [*DTE, "--input_type", "model"], "--input_type model needs --task_type cr|qa and --load_path"),
    ("run_task_emb.py", [*DTE, "--task_emb_type", "text", "--input_type", "model", "--load_path", "{t}"],
     "--task_emb_type text (TextEmb) describes a dataset"),
    ("run_task_emb.py", [*DTE, "--input_type", "model", "--load_path", "{t}/no_checkpoint"],
     "--load_path {t}/no_checkpoint does not exist"),
    ("run_task_emb.py", [*LLM_MTE, "--load_path", "{t}/no_answers.jsonl"], "no y' file {t}/no_answers.jsonl"),
    ("run_task_emb.py", [*LLM_MTE, "--load_path", "{t}/empty.jsonl"], "{t}/empty.jsonl holds no LLM outputs (0 bytes)"),
    ("run_task_emb.py", [*X_PRIME, "--unsup_data_path", "{t}/no_pool"], "pool file not found: {t}/no_pool"),
    ("run_task_emb.py", [*X_PRIME, "--unsup_data_path", "{t}/empty.jsonl"],
     "{t}/empty.jsonl holds no pool lines (0 bytes)"),
    ("run_task_emb.py", [*X_PRIME, "--task_type", "cr"], "--generate_model_data_only writes LLM inputs"),
    # LLM inference on a dataset and on x'.
    ("run_llm_inference.py", [*LLM, "--model", "{llama}", "--dataset_name", "mrpc"],
     "unknown dataset 'mrpc' for LLM inference"),
    ("run_llm_inference.py", [*LLM, "--model", "{t}/no.gguf", "--dataset_name", "sst2"], "GGUF file not found"),
    ("run_llm_inference.py", [*LLM, "--model", "{t}/fake.gguf", "--dataset_name", "sst2", "--bit", "8"],
     "it cannot be quantized again with bitsandbytes: use --bit 32 or --bit 16"),
    ("run_llm_inference.py", [*LLM, "--model", "{t}/no_model", "--dataset_name", "sst2"],
     "model folder {t}/no_model does not exist"),
    ("run_llm_inference.py", [*LLM, "--model", "{llama}", "--dataset_name", "sst2", "--chat_template", "{t}/no.jinja"],
     "--chat_template {t}/no.jinja is not a file"),
    ("run_llm_inference.py", [*LLM, "--model", "{llama}", "--dataset_name", "sst2,cb"],
     "--save_path {out}/l.json must contain {{dataset}} when several are given"),
    ("run_llm_inference.py", [*LLM, "--model", "{llama}", "--dataset_name", "sst2", "--dataset_path", "{t}/empty_eval"],
     "{t}/empty_eval/validation.csv is empty (0 bytes)"),
    ("run_llm_inference_for_te.py", [*Y_PRIME, "--data_load_path", "{t}/no_x.jsonl"],
     "--data_load_path {t}/no_x.jsonl not found"),
    ("run_llm_inference_for_te.py", [*Y_PRIME, "--data_load_path", "{t}/empty.jsonl"],
     "{t}/empty.jsonl holds no x' lines (0 bytes)"),
    ("run_llm_inference_for_te.py", [*Y_PRIME, "--data_load_path", "{t}/nli_x.jsonl"],
     "{t}/nli_x.jsonl:1: no text field 'content'; sa x' lines need content (is --task_genre right?)"),
    # Prompt-selection baselines and the evaluation.
    ("run_prompt_selection_baselines.py", ["--save_path", "{out}/p", "--paths", "{t}/inference/p0.json"],
     "got 1 inference files; 13 are needed"),
    ("run_prompt_selection_baselines.py", ["--save_path", "{out}/p", "--paths", PATHS],
     "{t}/inference/p0.json is empty (0 bytes)"),
    ("run_eval.py", ["transfer", "--emb_dir", "{t}/emb", "--score_dir", "{t}/scores", "--save_path", "{out}/t"],
     "no transfer runs under --score_dir {t}/scores: its 1 fine-tuning score(s) (sst2) are all plain fine-tunes"),
    ("run_eval.py", ["space", "--emb_dir", "{t}/no_emb", "--save_path", "{out}/t"], "--emb_dir {t}/no_emb is not a folder"),
    ("run_eval.py", ["space", "--emb_dir", "{t}/scores", "--save_path", "{out}/t"], "no embeddings"),
    ("run_eval.py", ["prompt", "--inference_dir", "{t}/inference", "--save_path", "{out}/t"],
     "nothing to evaluate: pass --baseline_scores, --emb_dir or both"),
    # The tools of scripts/.
    ("scripts/sweep.py", ["finetune", "--out", "{out}", "--cr_datasets", "mysent"],
     "--cr_datasets: unknown dataset 'mysent'"),
    ("scripts/sweep.py", ["finetune", "--out", "{out}", "--data_dir", "{t}/no_data"], "--data_dir: no folder"),
    ("scripts/demo.py", ["--out", "{out}", "--data_dir", "{t}", "--parts", "cr", "--cr_tasks", "sst2", "--lm", "{bert}"],
     "{t} has no folder for sst2"),
    ("scripts/check_hub.py", ["--datasets", "mysent"], "unknown dataset(s) mysent"),
]


@pytest.fixture(scope="module")
def t(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_inputs")
    inputs(folder)
    return folder


@pytest.mark.parametrize("script,argv,expected", CASES, ids=[f"{i}-{case[0]}" for i, case in enumerate(CASES)])
def test_bad_input_is_one_line_naming_the_cause_and_leaves_nothing(script, argv, expected, t, tmp_path, tiny_bert,
                                                                     tiny_llama, caplog, capsys):
    names = {"t": t, "out": tmp_path / "out", "bert": tiny_bert, "llama": tiny_llama}
    before = sorted(t.rglob("*"))
    module = load(script)
    with caplog.at_level(logging.ERROR):
        argv = [arg.format(**names) for arg in argv]
        if script == "scripts/sweep.py":  # it prints its own one-line errors and returns the status
            status, errors = module.main(argv), capsys.readouterr().err.splitlines()
        else:  # FuteError, logged on one line by the entry point
            status = cli.run_entry(module.main, argv)
            errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert status == 2 and len(errors) == 1 and "\n" not in errors[0], errors
    assert expected.format(**names) in errors[0]
    assert not names["out"].exists() and sorted(t.rglob("*")) == before  # no output, no folder, inputs untouched
