"""The leak guard (task_emb/leaks.py, data_utils/artifacts/text_prints.py): x' that hold a target's text, by its
name or renamed, are marked in the unified-space table; x' of other data are not; records that do not say are
"unknown", never clean."""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest

import run_cr_train
import run_eval
import run_task_emb
from data_utils.artifacts.data_identity import TaskLabels
from data_utils.artifacts.embeddings import read_embedding
from data_utils.artifacts.model_inputs import inputs_of_answers
from data_utils.artifacts.paths import record_path
from data_utils.artifacts.text_prints import prints_path, read_prints, text_hashes
from task_emb import leaks

SAMPLES = Path(__file__).parents[1] / "data" / "samples"
FIM = ["--task_emb_type", "fim", "--max_epochs", "1", "--batch_size", "8", "--gradient_accumulation_steps", "1"]
OTHER = [f"the committee met on day {i} to discuss the budget" for i in range(6)]


def sentences(task: str, *splits: str) -> list[str]:
    return [json.loads(line)["sentence"] for split in splits
            for line in (SAMPLES / task / f"{split}.jsonl").read_text().splitlines()]


def long_enough(texts) -> set[str]:
    """Normalised here as text_prints documents it (NFKC, case-folded, one space), texts of 5 words or more."""
    forms = {" ".join(unicodedata.normalize("NFKC", t).casefold().split()) for t in texts}
    return {form for form in forms if len(form.split()) >= 5}


# sst2 sentences from its train split, past the 16 the DTE samples: x' from rows the DTE never saw still leak.
LEAKED = [s for s in sentences("sst2", "train")[100:] if len(s.split()) >= 5][:6]


@pytest.fixture(scope="module")
def space(tmp_path_factory, tiny_bert):
    """DTEs of sst2 and qqp, and the MTE of a model fine-tuned on sst2 learned on three pools: sst2's own text
    under its name, the same text renamed, and text of no target."""
    out = tmp_path_factory.mktemp("leaks")
    run_cr_train.main(["--to_train_dataset", "sst2", "--dataset_path", str(SAMPLES / "sst2"), "--lm_model_name",
                       str(tiny_bert), "--model_save_path", str(out / "m"), "--score_save_path", str(out / "m_score"),
                       "--max_epochs", "1", "--batch_size", "8", "--max_train_examples", "16"])
    common = ["--task_type", "cr", "--task_emb_model_lm_name", str(tiny_bert), *FIM]
    for task in ("sst2", "qqp"):
        run_task_emb.main([*common, "--input_type", "data", "--to_train_dataset", task, "--dataset_path",
                           str(SAMPLES / task), "--max_train_examples", "16", "--save_path", str(out / f"{task}_dte")])
    for pool, source, texts in (("named", "sst2", LEAKED), ("renamed", "movie_lines", LEAKED),
                                ("other", "agnews", OTHER)):
        (out / pool).mkdir()
        (out / pool / "pool.jsonl").write_text("".join(json.dumps({"text": t, "source": source}) + "\n"
                                                       for t in texts))
        run_task_emb.main([*common, "--input_type", "model", "--load_path", str(out / "m"), "--unsup_data_path",
                           str(out / pool / "pool.jsonl"), "--save_path", str(out / pool / "mte")])
    return out


def found(space: Path, pool: str) -> leaks.Leak:
    dtes = [read_embedding(space / f"{task}_dte.npy") for task in ("sst2", "qqp")]
    mte = read_embedding(space / pool / "mte.npy")
    (leak,) = leaks.find("fim-fute", [mte], dtes, TaskLabels.of_embeddings([mte, *dtes]))
    return leak


def test_a_dte_fingerprints_every_text_of_its_dataset_not_only_its_sample(space):
    record = json.loads(record_path(space / "sst2_dte.npy").read_text())
    hashes = read_prints(space / "sst2_dte.npy", record["config"]["texts"])
    assert record["config"]["texts"]["texts"] == len(hashes) == len(long_enough(sentences("sst2", "train",
                                                                                         "validation")))
    assert np.isin(text_hashes(LEAKED), hashes).all()  # rows the DTE's 16 examples do not hold


@pytest.mark.parametrize("pool, sources", [("named", ["sst2"]), ("renamed", [])])
def test_x_holding_a_targets_text_is_marked_by_name_and_by_text(space, pool, sources):
    leak = found(space, pool)
    assert (leak.status, leak.mark) == ("shared", "†")
    assert leak.shared == [{"dte": "sst2", "sources": sources, "texts": len(long_enough(LEAKED))}]


def test_x_of_no_target_is_clean(space):
    record = json.loads(record_path(space / "other" / "mte.npy").read_text())
    assert record["config"]["pool"]["sources"] == {"agnews": len(OTHER)}  # the x' record lists its sources
    leak = found(space, "other")
    assert (leak.status, leak.shared, leak.mark) == ("clean", [], "")


def test_a_record_that_does_not_say_is_unknown_never_clean(space, tmp_path):
    for name in ("sst2_dte", "qqp_dte"):
        for path in (space / f"{name}.npy", record_path(space / f"{name}.npy")):
            (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "other").mkdir()
    for path in (space / "other" / "mte.npy", record_path(space / "other" / "mte.npy")):
        (tmp_path / "other" / path.name).write_bytes(path.read_bytes())  # its fingerprint file left behind
    leak = found(tmp_path, "other")
    assert leak.status == "unknown" and "holds no fingerprint of its x'" in leak.unknown


def test_the_space_table_marks_the_mte_and_names_the_shared_source(space, tmp_path):
    folder = tmp_path / "emb"
    folder.mkdir()
    for path in (space / "sst2_dte", space / "qqp_dte", space / "renamed" / "mte"):
        for file in (path.with_suffix(".npy"), record_path(path.with_suffix(".npy")), prints_path(path)):
            (folder / file.name).write_bytes(file.read_bytes())
    table = run_eval.main(["space", f"--emb_dir={folder}", f"--save_path={tmp_path / 'space'}"])
    assert {(row["mte"], row["leak"]) for row in table["ranks"]} == {("sst2", "†")}
    assert [(row["mte"], row["status"], row["mark"]) for row in table["leaks"]] == [("sst2", "shared", "†")]
    markdown = (tmp_path / "space.md").read_text()
    assert f"| fim-fute | 42 | sst2 | † | sst2: {len(long_enough(LEAKED))} shared texts |" in markdown


def test_an_llms_x_record_their_sources_and_fingerprint_and_its_mtes_read_them(tmp_path, tiny_bert):
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps({"text": t, "source": "reviews"}) + "\n" for t in LEAKED))
    x = tmp_path / "sa_x.jsonl"
    run_task_emb.main(["--save_path", str(x), "--task_type", "sa", "--input_type", "model", "--task_emb_type",
                       "prefix", "--generate_model_data_only", "True", "--task_emb_model_lm_name", str(tiny_bert),
                       "--unsup_data_path", str(pool)])
    answers = tmp_path / "llm_sa_p0.jsonl"
    record_path(answers).write_text(json.dumps({"config": {"data_load_path": str(x)}}))
    sources, hashes = inputs_of_answers(answers)
    assert sources["sources"] == {"reviews": len(LEAKED)}
    assert np.array_equal(hashes, text_hashes(LEAKED))
    assert inputs_of_answers(tmp_path / "no_record.jsonl") == (None, None)


@pytest.mark.parametrize("source, shared", [("glue_sst2", True), ("GLUE-SST2", True), ("sst2", True),
                                            ("imdb", False), ("glue_qqp", False)])
def test_a_pool_source_is_the_dataset_of_its_name_or_crossfit_name(space, source, shared):
    assert leaks.is_source_of(source, read_embedding(space / "sst2_dte.npy"), {}) is shared
