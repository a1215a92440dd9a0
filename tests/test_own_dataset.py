"""A dataset of one's own, by name, from a declaration file: every script takes it, every record names it and its
data, and every table tells two datasets of one name apart (data_utils/artifacts/data_identity.py)."""
from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import run_cr_train
import run_eval
import run_llm_inference
import run_task_emb
from data_utils.artifacts.embeddings import load_embeddings
from data_utils.artifacts.llm_outputs import read_inference_file
from data_utils.errors import FuteError
from llm_inference.selection_files import check_prompt_set
from task_emb import plots

import test_declarations  # tests/: its example declaration

POOL = Path(__file__).parents[1] / "data" / "samples" / "unsup_pool.jsonl"
FAST = ["--max_epochs", "1", "--batch_size", "8"]
# test_declarations.py's mysent, with its own verbalizers for the LLM.
DECLARATION = test_declarations.DECLARATION + (
    "llm:\n  genre: sa\n  verbalizers: {negative: [bad, Bad], positive: [good, Good]}\n")


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """A 40-row sentiment CSV with its own column names and label words, declared in mysent.yaml."""
    root = tmp_path_factory.mktemp("own")
    rng = random.Random(0)
    words = {"pos": ["great", "lovely", "good", "charming"], "neg": ["awful", "boring", "bad", "dull"]}
    rows = [(f"the film was {rng.choice(words[y])} and the cast {rng.choice(words[y])}", y)
            for y in ("neg", "pos") * 20]
    (root / "data").mkdir()
    pd.DataFrame(rows, columns=["review", "sentiment"]).to_csv(root / "data" / "reviews.csv", index=False)
    (root / "mysent.yaml").write_text(DECLARATION)
    return root


def record(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.usefixtures("one_torch_thread")
def test_a_csv_of_ones_own_runs_through_every_script_under_its_own_name(own, tmp_path, tiny_bert, tiny_llama,
                                                                       monkeypatch):
    monkeypatch.chdir(own)  # the declaration as a researcher types it: a path relative to where they are
    out = tmp_path
    run_cr_train.main(["--to_train_dataset", "mysent.yaml", "--lm_model_name", str(tiny_bert),
                       "--model_save_path", str(out / "ckpt"), "--score_save_path", str(out / "score"), *FAST])
    data = record(out / "score.record.json")["config"]["data"]
    declared = own / "mysent.yaml"
    assert data["name"] == "mysent" and data["declaration"] == {
        "given": "mysent.yaml", "path": str(declared), "sha256": hashlib.sha256(declared.read_bytes()).hexdigest()}
    csv = own / "data" / "reviews.csv"
    assert data["sources"] == [
        {"split": "train", "path": str(csv), "sha256": hashlib.sha256(csv.read_bytes()).hexdigest()}]
    assert record(out / "ckpt" / "fute_record.json")["config"]["data"] == data
    assert record(out / "score.record.json")["config"]["num_dev_examples"] == 8  # the seeded 80/20 cut of 40

    emb = out / "emb"
    common = ["--task_type", "cr", "--task_emb_model_lm_name", str(tiny_bert), *FAST, "--gradient_accumulation_steps",
              "1"]
    for family in ("prefix", "fim"):
        run_task_emb.main(["--input_type", "data", "--task_emb_type", family, "--to_train_dataset", "mysent.yaml",
                           "--save_path", str(emb / f"{family}_dte"), *common])
    # The MTE reads the dataset from the checkpoint's record: the declaration travels with it.
    run_task_emb.main(["--input_type", "model", "--task_emb_type", "prefix", "--load_path", str(out / "ckpt"),
                       "--unsup_data_path", str(POOL), "--max_data_for_task_emb_train", "2",
                       "--save_path", str(emb / "prefix_mte"), *common])
    embeddings = load_embeddings(emb)
    assert [(e.kind, e.dataset) for e in embeddings] == [("DTE", "mysent"), ("DTE", "mysent"), ("MTE", "mysent")]
    assert {e.config["data"]["digest"] for e in embeddings} == {data["digest"]}

    run_llm_inference.main(["--model", str(tiny_llama), "--dataset_name", "mysent.yaml", "--prompt_number", "0",
                            "--bit", "32", "--device", "cpu", "--max_examples", "6", "--save_path",
                            str(out / "llm" / "{dataset}_p{prompt}")])
    answered = record(out / "llm" / "mysent_p0.json")
    assert answered["dataset"] == "mysent" and answered["data"]["digest"] == data["digest"]
    assert answered["prompt_info"]["answer_choices"] == {"negative": ["bad", "Bad"], "positive": ["good", "Good"]}
    assert answered["results"][0]["token_info"]["verbalizers"] == ["bad", "Bad", "good", "Good"]
    assert "(bad, Bad, good, Good)" in answered["results"][0]["input_prompt"]
    # The LLM answers the dev cut, the examples the fine-tune was scored on: neg/pos mapped to 0/1.
    assert answered["summary"]["num_examples"] == 6
    assert {r["data_entry"]["answer"] for r in answered["results"]} <= {"neg", "pos"}
    assert [r["normalized_answer"] for r in answered["results"]] == [
        {"neg": 0, "pos": 1}[r["data_entry"]["answer"]] for r in answered["results"]]
    # The readers of prompt selection take the labels and the metric from the file, not from the registry.
    outputs = read_inference_file(out / "llm" / "mysent_p0.json")
    assert (outputs.dataset, outputs.labels, outputs.metric) == ("mysent", ("negative", "positive"), "accuracy")
    other = replace(outputs, prompt=1, data="f" * 64)
    with pytest.raises(FuteError, match="answer two different datasets of that name"):
        check_prompt_set([outputs, other])

    report = run_eval.main(["space", "--emb_dir", str(emb), "--save_path", str(out / "space"), "--displacement",
                            "False"])
    assert [(r["mte"], r["own_rank"], r["family"]) for r in report["ranks"]] == [("mysent", 1, "sentiment")]


# ---------------------------------------------------------------- told apart

MY_RT = DECLARATION.replace("mysent", "rotten_tomatoes")  # the file RT_OWN was declared by (its SHA-256)


def data_entry(name: str, digest_char: str, origin: str, family: str = "sentiment", task: str = "cr") -> dict:
    source = {"split": "train", "hub": origin[len("hub "):]} if origin.startswith("hub ") else {
        "split": "train", "path": origin, "sha256": "0" * 64}
    return {"name": name, "task": task, "family": family, "digest": digest_char * 64,
            "declaration": {"given": origin, "path": origin, "sha256": hashlib.sha256(MY_RT.encode()).hexdigest()}
            if origin.endswith(".yaml") else None,
            "spec": None, "sources": [] if origin.endswith(".yaml") else [source]}


RT_HUB = data_entry("rotten_tomatoes", "a", "hub cornell-movie-review-data/rotten_tomatoes")
RT_OWN = data_entry("rotten_tomatoes", "b", "/home/me/my_rt.yaml")
MRPC = data_entry("mrpc", "c", "hub nyu-mll/glue mrpc", "paraphrase")


def write_embedding(folder: Path, name: str, kind: str, method: str, vector, data: dict, recorded: bool = True):
    """An embedding of `data`'s dataset; `recorded` False: a record written before the data was recorded."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{name}.npy", np.asarray(vector, dtype=np.float32))
    info = {"task": data["name"], "kind": kind, "method": method, "dim": len(vector)}
    config = {"task_emb_type": "fim", **({"data": data} if recorded else {})}
    (folder / f"{name}.record.json").write_text(json.dumps(
        {"command": "run_task_emb.py", "config": config, "versions": {}, "embedding": info}))


def write_two_rotten_tomatoes(folder: Path) -> None:
    """The registry's rotten_tomatoes DTE, a user's rotten_tomatoes DTE and MTE, and mrpc's DTE."""
    write_embedding(folder, "rt_hub_dte", "DTE", "fim-fute", [0.9, 0.1, 0.0, 0.0], RT_HUB)  # nearest the MTE
    write_embedding(folder, "mrpc_dte", "DTE", "fim-fute", [0.5, 0.5, 0.5, 0.0], MRPC)
    write_embedding(folder, "rt_own_dte", "DTE", "fim-fute", [0.0, 0.0, 0.2, 1.0], RT_OWN)  # farthest
    write_embedding(folder, "rt_own_mte", "MTE", "fim-fute", [1.0, 0.0, 0.0, 0.0], RT_OWN)


def test_a_users_rotten_tomatoes_is_not_the_registrys_in_the_space_table(tmp_path, caplog):
    """On main both DTEs were one task: the user's model found "its own task" in the real rotten_tomatoes DTE."""
    write_two_rotten_tomatoes(tmp_path)
    with caplog.at_level(logging.WARNING):
        report = run_eval.main(["space", "--emb_dir", str(tmp_path), "--save_path", str(tmp_path / "space")])
    (rank,) = report["ranks"]
    assert (rank["mte"], rank["own_rank"], rank["family_rank"], rank["nearest"]) == (
        "rotten_tomatoes@bbbbbbbb", 3, 1, "rotten_tomatoes@aaaaaaaa")
    note = ("the embeddings hold 2 different datasets named rotten_tomatoes (rotten_tomatoes@aaaaaaaa: hub "
            "cornell-movie-review-data/rotten_tomatoes; rotten_tomatoes@bbbbbbbb: /home/me/my_rt.yaml)")
    assert report["notes"] == [f"{note}; they are told apart by their data, and none counts as another's task"]
    assert note in (tmp_path / "space.md").read_text() and note in caplog.text
    ranks_csv = (tmp_path / "space_ranks.csv").read_text()
    assert "rotten_tomatoes@bbbbbbbb" in ranks_csv and "rotten_tomatoes@aaaaaaaa" in ranks_csv


@pytest.mark.parametrize("dtes, mtes, columns, own_rank", [
    ("rotten_tomatoes,mrpc", "rotten_tomatoes", ["mrpc", "rotten_tomatoes@aaaaaaaa", "rotten_tomatoes@bbbbbbbb"], 3),
    ("mrpc,rotten_tomatoes@bbbbbbbb", "rotten_tomatoes@bbbbbbbb", ["mrpc", "rotten_tomatoes"], 2),
    ("mrpc,{file}", "{file}", ["mrpc", "rotten_tomatoes"], 2),  # the file that declared it, moved since
])
def test_space_dtes_and_mtes_name_datasets_of_one_name_as_the_tables_do(tmp_path, dtes, mtes, columns, own_rank):
    """--dtes/--mtes take a name (every dataset of that name), the label that tells one apart or the declaration
    file; the table then labels what it holds (one rotten_tomatoes left: its name alone). Cosines of the MTE
    e_1 = (1, 0, 0, 0): the registry's 0.994, mrpc's 0.577, its own 0."""
    write_two_rotten_tomatoes(tmp_path / "emb")
    (tmp_path / "mine.yaml").write_text(MY_RT)
    dtes, mtes = (names.format(file=tmp_path / "mine.yaml") for names in (dtes, mtes))
    report = run_eval.main(["space", "--emb_dir", str(tmp_path / "emb"), "--dtes", dtes, "--mtes", mtes,
                            "--save_path", str(tmp_path / "space")])
    (rank,) = report["ranks"]
    assert rank["own_rank"] == own_rank and rank["mte"] == columns[-1]
    assert len(report["notes"]) == len(columns) - 2  # the warning where two are told apart
    rows = [line for line in (tmp_path / "space.md").read_text().splitlines() if line.startswith("|")]
    shown = set(re.findall(r"rotten_tomatoes(?:@\w+)?", "\n".join(rows)))
    assert sorted(shown) == columns[1:]
    with pytest.raises(FuteError, match=r"DTE rotten_tomatoes@cccccccc of method fim-fute not in"):
        run_eval.main(["space", "--emb_dir", str(tmp_path / "emb"), "--dtes", "mrpc,rotten_tomatoes@cccccccc",
                       "--save_path", str(tmp_path / "other")])


def test_records_written_before_data_was_recorded_are_one_dataset_per_name(tmp_path):
    write_embedding(tmp_path, "dte", "DTE", "fim-fute", [1.0, 0.0], RT_HUB, recorded=False)
    write_embedding(tmp_path, "mte", "MTE", "fim-fute", [1.0, 0.1], RT_HUB, recorded=False)
    write_embedding(tmp_path, "sst2", "DTE", "fim-fute", [0.0, 1.0], data_entry("sst2", "d", "hub nyu-mll/glue"))
    report = run_eval.main(["space", "--emb_dir", str(tmp_path), "--save_path", str(tmp_path / "space")])
    assert [(r["mte"], r["own_rank"], r["family_rank"]) for r in report["ranks"]] == [("rotten_tomatoes", 1, 1)]
    assert report["notes"] == []


def test_an_mte_of_unrecorded_data_is_the_one_recorded_dataset_of_its_name_or_a_task_of_its_own(tmp_path):
    """The MTE of a model fine-tuned elsewhere (no record of its data) beside one recorded rotten_tomatoes: that
    one is its own task, with a note; beside two, it is rotten_tomatoes@unrecorded and names neither."""
    write_embedding(tmp_path, "rt_hub_dte", "DTE", "fim-fute", [0.0, 1.0, 0.0], RT_HUB)
    write_embedding(tmp_path, "mrpc_dte", "DTE", "fim-fute", [1.0, 0.0, 0.0], MRPC)  # nearer the MTE
    write_embedding(tmp_path, "elsewhere_mte", "MTE", "fim-fute", [1.0, 0.5, 0.0], RT_HUB, recorded=False)
    report = run_eval.main(["space", "--emb_dir", str(tmp_path), "--save_path", str(tmp_path / "space")])
    assert [(r["mte"], r["own_rank"], r["nearest"]) for r in report["ranks"]] == [("rotten_tomatoes", 2, "mrpc")]
    assert report["notes"] == ["the embeddings: some of rotten_tomatoes's records do not say which data they were "
                               "made from; they are taken to be the one rotten_tomatoes recorded (hub "
                               "cornell-movie-review-data/rotten_tomatoes)"]
    write_embedding(tmp_path, "rt_own_dte", "DTE", "fim-fute", [0.0, 0.0, 1.0], RT_OWN)
    report = run_eval.main(["space", "--emb_dir", str(tmp_path), "--save_path", str(tmp_path / "space2")])
    assert [(r["mte"], r["own_rank"]) for r in report["ranks"]] == [("rotten_tomatoes@unrecorded", None)]


def write_score(folder: Path, name: str, target: dict, source: dict | None, best: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"accuracy": best, "best": best}))
    config = {"to_train_dataset": target["name"], "data": target, "num_train_examples": 100,
              "source_dataset": source and source["name"], "source_data": source,
              "load_path": "ckpt" if source else None}
    (folder / f"{name}.record.json").write_text(json.dumps({"command": "", "config": config, "versions": {}}))


def test_the_transfer_table_plots_and_compare_tell_two_datasets_of_one_name_apart(tmp_path, caplog):
    """On main the two rotten_tomatoes were one task: "two transfer runs mrpc -> rotten_tomatoes; keep one"."""
    sets = {"hub": RT_HUB, "own": RT_OWN, "mrpc": MRPC}
    truth = {("hub", "own"): 0.9, ("mrpc", "own"): 0.6, ("own", "hub"): 0.8, ("mrpc", "hub"): 0.7,
             ("own", "mrpc"): 0.5, ("hub", "mrpc"): 0.4}
    for (source, target), best in truth.items():
        write_score(tmp_path / "scores", f"{source}__{target}", sets[target], sets[source], best)
    vectors = {"hub": [1.0, 0.2, 0.0], "own": [0.0, 0.2, 1.0], "mrpc": [0.3, 1.0, 0.3]}
    for key, vector in vectors.items():
        write_embedding(tmp_path / "emb", key, "DTE", "textemb", vector, sets[key])
    report = run_eval.main(["transfer", "--emb_dir", str(tmp_path / "emb"), "--score_dir", str(tmp_path / "scores"),
                            "--save_path", str(tmp_path / "transfer"), "--datasize", "False"])
    targets = report["targets"]["textemb"]["42"]["in_class"]
    assert sorted(targets) == ["mrpc", "rotten_tomatoes@aaaaaaaa", "rotten_tomatoes@bbbbbbbb"]
    # The user's rotten_tomatoes: mrpc is nearer than the registry's (cosines), but the registry's transfers best.
    assert targets["rotten_tomatoes@bbbbbbbb"]["rho"] == 2
    assert "2 different datasets named rotten_tomatoes" in (tmp_path / "transfer.md").read_text()
    narrowed = run_eval.main(["transfer", "--emb_dir", str(tmp_path / "emb"), "--score_dir", str(tmp_path / "scores"),
                              "--save_path", str(tmp_path / "t2"), "--datasize", "False", "--tasks",
                              "rotten_tomatoes"])  # a name selects every dataset of that name
    assert sorted(narrowed["targets"]["textemb"]["42"]["in_class"]) == ["rotten_tomatoes@aaaaaaaa",
                                                                    "rotten_tomatoes@bbbbbbbb"]
    embeddings = load_embeddings(tmp_path / "emb")
    assert sorted(plots.embedding_labels(embeddings)) == ["mrpc", "rotten_tomatoes@aaaaaaaa",
                                                          "rotten_tomatoes@bbbbbbbb"]
    paths, chosen = plots.plot_selected(embeddings, None, ["DTE"], ["rotten_tomatoes@bbbbbbbb", "mrpc",
                                                                   "rotten_tomatoes@aaaaaaaa"], tmp_path / "p",
                                        0, None, tmp_path, displacement=False)
    assert len(chosen) == 3 and paths["heatmap"].is_file()
    compared = run_eval.main(["compare", "--emb_dir", str(tmp_path / "emb"), "--save_path", str(tmp_path / "c"),
                              "--displacement", "False"])
    assert sorted(e["label"] for e in compared["embeddings"]) == ["mrpc", "rotten_tomatoes@aaaaaaaa",
                                                                  "rotten_tomatoes@bbbbbbbb"]
    assert "2 different datasets named rotten_tomatoes" in (tmp_path / "c.md").read_text()


def test_a_task_of_unknown_class_is_named(tmp_path):
    """Records from before data was recorded name their dataset only: a name outside the registry has no class."""
    for name, target, source in (("a", "my_data", None), ("b", "my_data", "mrpc"), ("c", "mrpc", "my_data")):
        (tmp_path / f"{name}.json").write_text(json.dumps({"best": 0.5}))
        config = {"to_train_dataset": target, "source_dataset": source, "load_path": "x" if source else None}
        (tmp_path / f"{name}.record.json").write_text(json.dumps({"command": "", "config": config}))
    write_embedding(tmp_path / "emb", "x", "DTE", "textemb", [1.0, 0.0], MRPC)
    with pytest.raises(FuteError, match="the class \\(cr/qa\\) of my_data is unknown"):
        run_eval.main(["transfer", "--emb_dir", str(tmp_path / "emb"), "--score_dir", str(tmp_path),
                       "--save_path", str(tmp_path / "t")])


def test_a_declared_verbalizer_of_several_tokens_names_its_key_and_the_model_as_given_once_before_loading(
        own, tiny_llama, monkeypatch):
    """A declaration's verbalizer that the model splits ("filmy": "▁film" "y" in the tiny vocabulary) is refused
    from the tokenizer alone, once for all prompts, naming the declaration's key to change and the model as typed
    (a .gguf file, not the folder it resolves to), not configs/prompts/."""
    from llm_inference import backends, models

    monkeypatch.chdir(own)
    (own / "wordy.yaml").write_text(DECLARATION.replace("[good, Good]", "[filmy]"))
    (own / "smollm2.gguf").write_bytes(b"GGUF")
    resolve = models.resolve_model
    monkeypatch.setattr(models, "resolve_model", lambda name: resolve(str(tiny_llama)))  # as a .gguf resolves

    def no_weights(*_):
        raise AssertionError("the model's weights were loaded")

    monkeypatch.setattr(backends, "load_llm_model", no_weights)
    with pytest.raises(FuteError) as err:
        run_llm_inference.main(["--model", "smollm2.gguf", "--dataset_name", "wordy.yaml", "--prompt_number", "0-1",
                                "--bit", "32", "--device", "cpu", "--save_path", "out_{prompt}"])
    message = str(err.value)
    assert message.count("not one token") == 1
    assert "'filmy' (wordy.yaml: llm.verbalizers.positive) is not one token of 'smollm2.gguf'" in message
    assert "configs/prompts" not in message and str(tiny_llama) not in message
