"""The README's "Your own data and models" section, run as written: its declaration and its shell lines, on a CSV
with its own column names and label words written here, with the tiny BERT and tiny Llama in place of the hub
models the README names, and small budgets. Each output is then checked against a computation made here."""
from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
# Budgets small enough for tiny models on CPU, added to each command the README shows.
QUICK = {"run_cr_train.py": ["--max_epochs", "1", "--batch_size", "8", "--device", "cpu"],
         "run_task_emb.py": ["--max_epochs", "1", "--batch_size", "8", "--gradient_accumulation_steps", "1",
                             "--device", "cpu"],
         "run_llm_inference.py": ["--bit", "32", "--device", "cpu", "--max_examples", "6"],
         "run_eval.py": []}
MTE_QUICK = ["--max_data_for_task_emb_train", "4"]


def readme_block(marker: str, language: str) -> str:
    """The fenced block that follows the HTML comment `marker` in README.md."""
    text = (REPO / "README.md").read_text()
    found = re.search(rf"<!-- {re.escape(marker)}[^>]*-->\s*```{language}\n(.*?)```", text, re.S)
    assert found, f"README.md has no ```{language} block after <!-- {marker} -->"
    return found.group(1)


def shim(folder: Path) -> Path:
    """A `python` the walk-through calls: it runs the repository's script with this interpreter and the budgets."""
    path = folder / "python_shim.py"
    path.write_text(textwrap.dedent(f"""\
        import os, sys
        script, *args = sys.argv[1:]
        extra = {QUICK!r}[script] + ({MTE_QUICK!r} if "model" in args and "--input_type" in args else [])
        os.execv({sys.executable!r}, [{sys.executable!r}, os.path.join({str(REPO)!r}, script), *args, *extra])
        """))
    return path


@pytest.fixture(scope="module")
def walked(tmp_path_factory, tiny_bert, tiny_llama) -> Path:
    """The folder the walk-through ran in: reviews.csv and mysent.yaml beside data/ (the repository's samples)."""
    root = tmp_path_factory.mktemp("walk")
    rng = random.Random(0)
    words = {"pos": ["great", "lovely", "good", "charming"], "neg": ["awful", "boring", "bad", "dull"]}
    rows = [(f"the film was {rng.choice(words[y])} and the cast {rng.choice(words[y])}", y) for y in ("neg", "pos") * 20]
    pd.DataFrame(rows, columns=["review", "sentiment"]).to_csv(root / "reviews.csv", index=False)
    (root / "mysent.yaml").write_text(readme_block("own-data declaration", "yaml"))
    (root / "data").symlink_to(REPO / "data")
    lines = readme_block("own-data walk-through", "bash")
    models = dict(re.findall(r"^(LLM|LM)=(\S+)", lines, re.M))
    assert set(models) == {"LM", "LLM"}, "the walk-through names its LM and LLM in LM= and LLM= lines"
    lines = lines.replace(models["LM"], str(tiny_bert)).replace(models["LLM"], str(tiny_llama))
    script = f'set -euo pipefail\npython() {{ "{sys.executable}" "{shim(root)}" "$@"; }}\n{lines}'
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "FUTE_LOG_LEVEL": "WARNING"}
    done = subprocess.run(["bash", "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"the README's walk-through failed:\n{done.stderr[-4000:]}"
    return root


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_the_walk_through_names_the_users_task_and_data_everywhere(walked):
    score = load(walked / "out" / "mysent_score.record.json")["config"]
    assert score["data"]["name"] == "mysent"
    assert [s["path"] for s in score["data"]["sources"]] == [str(walked / "reviews.csv")]
    assert score["num_dev_examples"] == 8  # the seeded 80/20 cut of 40 rows
    for method in ("prefix", "fim"):
        for task in ("mysent", "sst2"):
            record = load(walked / "out" / "emb" / method / f"{task}_dte.record.json")
            assert (record["embedding"]["kind"], record["embedding"]["task"]) == ("DTE", task)
    mte = load(walked / "out" / "emb" / "prefix" / "mysent_mte.record.json")
    assert (mte["embedding"]["kind"], mte["embedding"]["task"]) == ("MTE", "mysent")
    assert mte["config"]["data"]["digest"] == score["data"]["digest"]  # the data came from the checkpoint's record


def test_compare_and_space_equal_cosines_computed_here(walked):
    compared = load(walked / "out" / "eval" / "compare.json")
    vectors = {e["label"]: np.load(walked / e["path"]).astype(np.float64) for e in compared["embeddings"]}
    assert sorted(vectors) == ["mysent", "mysent (MTE)", "sst2"]
    assert len(compared["pairs"]) == 3
    for pair in compared["pairs"]:
        assert pair["raw_cosine"] == pytest.approx(cosine(vectors[pair["a"]], vectors[pair["b"]]), abs=1e-5), pair

    space = load(walked / "out" / "eval" / "space.json")
    [row] = [r for r in space["ranks"] if r["method"] == "prefix-fute" and r["view"] == "raw"]
    mte = vectors["mysent (MTE)"]
    own_rank = 1 + (cosine(mte, vectors["sst2"]) > cosine(mte, vectors["mysent"]))
    assert (row["mte"], row["family"], row["own_rank"]) == ("mysent", "sentiment", own_rank)
    assert (walked / "out" / "eval" / "space.md").is_file() and (walked / "out" / "eval" / "compare.md").is_file()


def test_the_llm_answers_with_the_users_verbalizers(walked):
    answered = load(walked / "out" / "llm" / "mysent_p0.json")
    assert answered["dataset"] == "mysent"
    assert answered["prompt_info"]["answer_choices"] == {"negative": ["bad"], "positive": ["good"]}
    results = answered["results"]
    assert len(results) == 6 and {r["data_entry"]["answer"] for r in results} <= {"neg", "pos"}
    gold = [{"neg": 0, "pos": 1}[r["data_entry"]["answer"]] for r in results]
    assert [r["normalized_answer"] for r in results] == gold
    predicted = [int(np.argmax(r["label_scores"])) for r in results]
    assert answered["summary"]["accuracy"] == pytest.approx(np.mean(np.equal(gold, predicted)))
