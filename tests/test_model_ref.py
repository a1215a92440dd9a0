"""Records that travel: the models a run read are recorded as given, as absolute and relative paths (or hub id and
commit) with a content hash (data_utils/artifacts/model_ref.py), and run_eval.py finds the surrogate again from
another folder, after a move, or at --surrogate; when it cannot, one line names the flags that help."""
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import run_eval
import run_task_emb
from data_utils.artifacts import model_ref
from data_utils.artifacts.embeddings import load_embeddings
from data_utils.artifacts.model_ref import content_hash
from data_utils.errors import FuteError
from data_utils.declarations import get_spec
from task_emb.models import describe_model, load_head_model
from task_emb.prefix import initial_embedding

ROOT = Path(__file__).parents[1]
SAMPLES = ROOT / "data" / "samples"
FAST = ["--max_epochs", "1", "--batch_size", "8", "--gradient_accumulation_steps", "1", "--max_train_examples", "16"]


def digest_of(files: list[Path]) -> str:
    """SHA-256 over name, size and bytes of each file, written out here."""
    digest = hashlib.sha256()
    for path in files:
        data = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return digest.hexdigest()


def test_the_content_hash_covers_config_and_the_weights_from_pretrained_reads(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 3)
    (folder / "pytorch_model.bin").write_bytes(b"older weights")
    expected = digest_of([folder / "config.json", folder / "model.safetensors"])
    assert content_hash(folder) == expected
    # What does not define the weights: a README, the tokenizer, the .bin beside the .safetensors.
    (folder / "README.md").write_text("my model")
    (folder / "tokenizer.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"other older weights")
    assert content_hash(folder) == expected
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 2 + bytes(256))
    assert content_hash(folder) != expected
    (folder / "model.safetensors").unlink()
    assert content_hash(folder) == digest_of([folder / "config.json", folder / "pytorch_model.bin"])
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF weights")
    assert content_hash(gguf) == digest_of([gguf])


def test_a_large_file_is_hashed_by_evenly_spaced_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(model_ref, "WHOLE_FILE_BYTES", 1000)
    monkeypatch.setattr(model_ref, "BLOCKS", 4)
    monkeypatch.setattr(model_ref, "BLOCK_BYTES", 10)
    weights = tmp_path / "big.safetensors"
    data = bytearray(np.random.default_rng(0).integers(0, 256, size=10_000, dtype=np.uint8).tobytes())
    weights.write_bytes(data)
    starts = [0, 3330, 6660, 9990]  # (size - block) * i / (blocks - 1): the first at the start, the last at the end
    expected = hashlib.sha256(b"big.safetensors\x0010000\x00" + b"".join(data[s:s + 10] for s in starts)).hexdigest()
    assert content_hash(weights) == expected
    data[5000] ^= 1  # between blocks: not seen (the limit the docstring states)
    weights.write_bytes(data)
    assert content_hash(weights) == expected
    data[3335] ^= 1  # inside the second block
    weights.write_bytes(data)
    assert content_hash(weights) != expected


def learn(surrogate: str, save_path: str, dataset: str = "sst2", *extra: str) -> None:
    run_task_emb.main(["--task_type", "cr", "--input_type", "data", "--task_emb_type", "prefix",
                       "--task_emb_model_lm_name", surrogate, "--is_baseline", "False", "--to_train_dataset", dataset,
                       "--dataset_path", str(SAMPLES / dataset), "--save_path", save_path, *FAST, *extra])


@pytest.fixture()
def results(tmp_path, tiny_bert, monkeypatch):
    """work/models/tiny (a copy of the tiny BERT with an sst2 classifier head) given as the RELATIVE path
    models/tiny from work/: three DTEs, and the MTE of work/models/tiny itself as the model of sst2 (an MTE
    reads M's own head, so M has one)."""
    work = tmp_path / "work"
    shutil.copytree(tiny_bert, work / "models" / "tiny")
    load_head_model(str(tiny_bert), "cr", get_spec("sst2").labels).save_pretrained(work / "models" / "tiny")
    monkeypatch.chdir(work)
    for dataset in ("sst2", "mrpc", "rte"):
        learn("models/tiny", f"emb/{dataset}_dte", dataset)
    run_task_emb.main(["--task_type", "cr", "--input_type", "model", "--task_emb_type", "prefix",
                       "--task_emb_model_lm_name", "models/tiny", "--load_path", "models/tiny",
                       "--to_train_dataset", "sst2", "--unsup_data_path", str(SAMPLES / "unsup_pool.jsonl"),
                       "--max_data_for_task_emb_train", "4", "--save_path", "emb/sst2_mte", *FAST])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return work


def numpy_cosines(vectors: np.ndarray) -> np.ndarray:
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return units @ units.T


def test_space_plot_and_compare_run_from_another_folder_and_after_a_move(results, tmp_path, tiny_t5):
    emb = results / "emb"
    expected = {"given": "models/tiny", "path": str((results / "models" / "tiny").resolve()),
                "relative": "../models/tiny", "hub_id": None, "revision": None,
                "sha256": digest_of([results / "models" / "tiny" / "config.json",
                                     results / "models" / "tiny" / "model.safetensors"])}
    recorded = json.loads((emb / "sst2_mte.record.json").read_text())["embedding"]
    assert recorded["surrogate_ref"] == expected
    assert recorded["model_ref"] == expected  # the checkpoint M, here the same folder

    # The reproduction: run_eval.py from another folder, the surrogate given as a relative path.
    space = run_eval.main(["space", "--emb_dir", str(emb), "--save_path", "space"])
    assert {row["view"] for row in space["summary"]} == {"raw", "displacement"}
    assert "displacement_heatmap" in run_eval.main(["plot", "--emb_dir", str(emb), "--save_path", "plot"])
    e0 = initial_embedding(str(results / "models" / "tiny"), 42).astype(np.float64)
    vectors = np.stack([np.load(e.path).astype(np.float64) for e in load_embeddings(emb)])
    compared = run_eval.main(["compare", "--emb_dir", str(emb), "--save_path", "compare"])
    np.testing.assert_allclose(compared["displacement"], numpy_cosines(vectors - e0), rtol=0, atol=1e-12)

    # The surrogate moved away: one line naming both ways on, for every reader (a 49-line traceback before).
    shutil.move(results / "models", tmp_path / "moved")
    # --log_level ERROR: the error line alone, without the INFO lines of the table being built.
    done = subprocess.run([sys.executable, str(ROOT / "run_eval.py"), "space", "--emb_dir", str(emb), "--save_path",
                           "space", "--log_level", "ERROR"], capture_output=True, text=True,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "--surrogate PATH" in lines[0] and "--displacement False" in lines[0]
    for argv in (["space", "--emb_dir", str(emb), "--save_path", "space"],
                 ["plot", "--emb_dir", str(emb), "--save_path", "plot"],
                 ["compare", "--emb_dir", str(emb), "--save_path", "compare"]):
        with pytest.raises(FuteError, match=r"surrogate .*models/tiny.* is not found.*--surrogate PATH .*"
                                            r"--displacement False"):
            run_eval.main(argv)
    moved = str(tmp_path / "moved" / "tiny")
    again = run_eval.main(["compare", "--emb_dir", str(emb), "--save_path", "compare", "--surrogate", moved])
    assert again["displacement"] == compared["displacement"]
    with pytest.raises(FuteError, match=f"{tiny_t5} is not the surrogate .*content hash differs"):
        run_eval.main(["space", "--emb_dir", str(emb), "--save_path", "space", "--surrogate", str(tiny_t5)])
    raw_only = run_eval.main(["space", "--emb_dir", str(emb), "--save_path", "space", "--displacement", "False"])
    assert {row["view"] for row in raw_only["summary"]} == {"raw"}

    # Results and models copied together elsewhere: found relative to the records.
    shutil.move(tmp_path / "moved", results / "models")
    copy = tmp_path / "copy"
    shutil.move(results, copy)
    assert run_eval.main(["compare", "--emb_dir", str(copy / "emb"), "--save_path", "c"])["displacement"] == \
        compared["displacement"]


def test_a_hub_model_is_recorded_with_its_commit_and_found_in_the_cache(tmp_path, tiny_bert, monkeypatch):
    """A hub cache laid out as huggingface_hub writes it (models--org--name/refs/main, snapshots/<commit>/)."""
    import huggingface_hub

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--fute--tiny"
    shutil.copytree(tiny_bert, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    learn("fute/tiny", str(tmp_path / "emb" / "sst2"))
    learn("fute/tiny", str(tmp_path / "emb" / "mrpc"), "mrpc")
    ref = json.loads((tmp_path / "emb" / "sst2.record.json").read_text())["embedding"]["surrogate_ref"]
    assert ref == {"given": "fute/tiny", "path": None, "relative": None, "hub_id": "fute/tiny", "revision": commit,
                   "sha256": digest_of([repo / "snapshots" / commit / "config.json",
                                        repo / "snapshots" / commit / "model.safetensors"])}
    assert describe_model("fute/tiny", tmp_path) == describe_model("fute/tiny", tmp_path / "emb")
    compared = run_eval.main(["compare", "--emb_dir", str(tmp_path / "emb"), "--save_path", str(tmp_path / "c")])
    assert compared["displacement"] is not None
    # No copy in the cache (another machine, offline): one line naming the flags.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(FuteError, match=r"cannot read the surrogate fute/tiny .*--surrogate PATH .*--displacement"):
        run_eval.main(["compare", "--emb_dir", str(tmp_path / "emb"), "--save_path", str(tmp_path / "c")])
    assert run_eval.main(["compare", "--emb_dir", str(tmp_path / "emb"), "--save_path", str(tmp_path / "c"),
                          "--surrogate", str(repo / "snapshots" / commit)])["displacement"] == compared["displacement"]


def test_an_older_record_with_a_relative_surrogate_gives_one_line_not_a_traceback(tmp_path, tiny_bert, monkeypatch):
    """Records written before references existed name the surrogate as typed: tried from the current folder, from
    the record's, then as a hub id; none loads here."""
    emb = tmp_path / "emb"
    emb.mkdir()
    for task, kind in (("sst2", "DTE"), ("sst2", "MTE")):
        np.save(emb / f"{kind}.npy", np.ones(4, dtype=np.float32))
        (emb / f"{kind}.record.json").write_text(json.dumps({
            "command": "run_task_emb.py", "versions": {},
            "config": {"task_emb_type": "prefix", "task_emb_model_lm_name": "../models/tiny", "seed": 42},
            "embedding": {"task": task, "kind": kind, "method": "prefix-fute", "dim": 4}}))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FuteError, match=r"cannot read the surrogate \.\./models/tiny .*--surrogate PATH"):
        run_eval.main(["space", "--emb_dir", str(emb), "--save_path", "space"])
    shutil.copytree(tiny_bert, tmp_path / "models" / "tiny")  # where ../models/tiny leads from the record's folder
    with pytest.raises(FuteError, match="e0 has .* values, the embeddings .4.: their records name another surrogate"):
        run_eval.main(["space", "--emb_dir", str(emb), "--save_path", "space"])
