"""The paper's pool as a preset (scripts/sweep.py --grid paper), BoolQ as a QA task, the paper's numbers as data
(configs/paper_results.py) and their reference block beside our tables (data_utils/paper_reference.py)."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from test_run_eval import prompt_sweep, read_csv, write_embedding  # noqa: F401 (prompt_sweep: a fixture)
from test_sweeps import commands, sweep

import run_eval
from configs import paper_results
from configs.methods import METHODS_BY_ID
from data_utils import paper_reference
from data_utils.artifacts.data_identity import DataIdentity
from data_utils.artifacts.embeddings import Embedding, EmbeddingInfo
from data_utils.artifacts.scores import FinetuneRun, ScoreRecord
from data_utils.declaration_parser import parse_declaration
from data_utils.declarations import DATASETS
from data_utils.errors import FuteError
from data_utils.loading import load_examples
from llm_inference.selection_baselines import BASELINES
from task_emb.transfer_eval import DATASIZE

# Table A's pool as the paper's sources describe it (TaskEmb's 11 + 11, BoolQ a QA task), written out here.
CR = {"cola", "mnli", "mrpc", "qnli", "qqp", "rte", "scitail", "snli", "sst2", "stsb", "wnli"}
QA = {"squad", "squad_v2", "newsqa", "hotpotqa", "boolq_qa", "drop", "wikihop", "duorcp", "duorcs", "cq", "comqa"}


# ---------------------------------------------------------------- the preset


def test_the_paper_grid_fine_tunes_its_22_sets_and_transfers_every_pair(tmp_path):
    listed = commands("finetune", tmp_path / "result", "--grid", "paper")
    plain = {(Path(c[1]).name, c[c.index("--to_train_dataset") + 1]) for c in listed if "--load_path" not in c}
    assert plain == {("run_cr_train.py", d) for d in CR} | {("run_qa_train.py", d) for d in QA}
    pairs = [(Path(c[c.index("--load_path") + 1]).name.removesuffix("_ckpt"), c[c.index("--to_train_dataset") + 1])
             for c in listed if "--load_path" in c]
    # in-class (cr->cr, qa->qa) and all-class (every source for every target): each ordered pair once
    assert sorted(pairs) == sorted((s, t) for s in CR | QA for t in CR | QA if s != t)


def test_the_default_grid_keeps_boolq_as_cr_and_no_boolq_qa(tmp_path):
    listed = commands("finetune", tmp_path / "result")
    trained = {c[c.index("--to_train_dataset") + 1]: Path(c[1]).name for c in listed if "--load_path" not in c}
    assert trained["boolq"] == "run_cr_train.py" and "boolq_qa" not in trained and len(trained) == 25


@pytest.mark.parametrize("flags", [["--cr_datasets", "mrpc"], ["--qa_datasets", "squad"],
                                   ["--cr_datasets", "mrpc", "--qa_datasets", ""]])
def test_lists_given_beside_the_paper_grid_are_refused(tmp_path, flags):
    result = sweep("finetune", tmp_path / "result", "--grid", "paper", *flags)
    assert result.returncode == 2 and result.stdout == ""
    given = " and ".join(f for f in flags if f.startswith("--"))
    assert f"--grid paper runs the paper's pool (11 CR and 11 QA sets), which {given} would change" in result.stderr


# ---------------------------------------------------------------- BoolQ as QA


def test_boolq_qa_reads_yes_no_answers_as_spans_of_its_context(tmp_path):
    rows = [{"question": "is water wet", "passage": "Water wets things.", "label": value, "idx": i}
            for i, value in enumerate([1, 0, True, False, "True", "false"] * 2)]
    for split in ("train", "validation"):
        (tmp_path / f"{split}.jsonl").write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    examples = load_examples(DATASETS["boolq_qa"], str(tmp_path))["dev"]
    for example, yes in zip(examples, [True, False] * 6):
        answer = "yes" if yes else "no"
        assert example["context"] == "yes no Water wets things." and example["question"] == "is water wet"
        start = example["answers"]["answer_start"][0]
        assert example["answers"]["text"] == [answer] and example["context"][start:start + len(answer)] == answer
    assert DATASETS["boolq"].task_class == "cr" and DATASETS["boolq_qa"].task_class == "qa"

    (tmp_path / "validation.jsonl").write_text(json.dumps({**rows[0], "label": "maybe"}) + "\n")
    with pytest.raises(FuteError, match="example 0 has the answer 'maybe', not yes/no"):
        load_examples(DATASETS["boolq_qa"], str(tmp_path))
    with pytest.raises(FuteError, match="yes_no: is for qa datasets"):
        parse_declaration({"name": "x", "task": "cr", "labels": ["a", "b"], "yes_no": True}, "x.yaml")


# ---------------------------------------------------------------- the paper's numbers


def test_the_paper_numbers_match_a_second_transcription():
    """Cells read again off the paper's tables, independently of configs/paper_results.py."""
    table_a = {("prefix-baseline", "cr", "in_class", "ndcg"): 83.7, ("prefix-fute", "qa", "all_class", "rho"): 4.1,
               ("datasize", "qa", "all_class", "rho"): 11.4, ("fim-fute", "cr", "all_class", "ndcg"): 77.9,
               ("CurveGrad", "cr", "all_class", "rho"): None, ("textemb", "qa", "in_class", "ndcg"): 81.1}
    for (method, *column), value in table_a.items():
        assert paper_results.TRANSFER[method][1][paper_results.TRANSFER_COLUMNS.index(tuple(column))] == value
    table_b = {("nli", "prefix-fute", "llama-70b", "rate"): 98.4, ("sa", "ge", "mixtral", "ndcg"): 86.7,
               ("sa", "spell", "llama-13b", "ndcg"): 89.6, ("nli", "mi", "mixtral", "performance"): 37.2,
               ("sa", "fim-fute", "llama-70b", "performance"): 93.0}
    for (genre, method, llm, number), value in table_b.items():
        at = paper_results.LLMS.index(llm) * 3 + paper_results.PROMPT_NUMBERS.index(number)
        assert paper_results.PROMPT[genre][method][1][at] == value
    # every row is complete and named by our ids, but for the method we do not compute
    assert {m for m in paper_results.TRANSFER if m != "CurveGrad"} <= {*METHODS_BY_ID, DATASIZE}
    assert all(len(numbers) == 8 for _, numbers in paper_results.TRANSFER.values())
    for rows in paper_results.PROMPT.values():
        assert set(rows) <= {*METHODS_BY_ID, *(b.id for b in BASELINES)} and len(rows) == 10
        assert all(len(numbers) == 9 for _, numbers in rows.values())
    assert set(paper_results.POOL["cr"]) == CR and set(paper_results.POOL["qa"]) == QA


# ---------------------------------------------------------------- the transfer table


def write_run(folder: Path, target: str, source: str | None, best: float, lm: str, cut: int | None = None) -> None:
    name = f"{source}__{target}" if source else target
    (folder / f"{name}.json").write_text(json.dumps({"best": best}))
    config = {"to_train_dataset": target, "source_dataset": source, "lm_model_name": lm, "max_train_examples": cut,
              "num_train_examples": cut or 1000, "load_path": f"ckpt/{source}" if source else None}
    (folder / f"{name}.record.json").write_text(json.dumps({"command": "run_cr_train.py", "config": config}))


def paper_setup(tmp_path: Path, tasks: set[str], cut: dict[str, int] | None = None) -> dict[str, Path]:
    """Plain fine-tunes of bert-base-uncased, every transfer, and prefix DTEs and MTEs on t5-base, of `tasks`."""
    rng = np.random.default_rng(0)
    emb, scores = tmp_path / "emb", tmp_path / "scores"
    emb.mkdir()
    scores.mkdir()
    for target in sorted(tasks):
        write_run(scores, target, None, 0.5, "bert-base-uncased", (cut or {}).get(target))
        for source in sorted(tasks - {target}):
            write_run(scores, target, source, float(rng.uniform()), "bert-base-uncased")
        for method, kinds in (("prefix-baseline", ("DTE",)), ("prefix-fute", ("DTE", "MTE"))):
            for kind in kinds:
                write_embedding(emb, f"{target}_{method}_{kind}", target, kind, method, rng.normal(size=8),
                                {"task_emb_model_lm_name": "t5-base"})
    return {"emb": emb, "scores": scores, "out": tmp_path / "out" / "transfer"}


def transfer_table(setup: dict[str, Path]) -> tuple[str, dict, Path]:
    run_eval.main(["transfer", f"--emb_dir={setup['emb']}", f"--score_dir={setup['scores']}",
                   f"--save_path={setup['out']}"])
    return (setup["out"].with_suffix(".md").read_text(), json.loads(setup["out"].with_suffix(".json").read_text()),
            setup["out"].parent / "transfer_paper.csv")


def test_the_transfer_table_on_the_paper_pool_shows_the_paper_rows_apart_from_ours(tmp_path):
    markdown, report, paper_csv = transfer_table(paper_setup(tmp_path, CR | QA, cut={"mrpc": 96}))
    block = markdown[markdown.index("## The paper's reported numbers"):]
    assert markdown.index("| FUTE + TuPaTE |") < markdown.index("## The paper's reported numbers")
    assert "| TuPaTE | 2.5 | 83.7 | 4.5 | 81.0 | 3.0 | 85.7 | 4.8 | 83.3 |" in block
    assert "| CurveGrad * | 5.5 | 68.6 | - | - | 8.3 | 64.8 | - | - |" in block
    assert ("- fine-tuned on a cut of the training split (--max_train_examples; the paper uses all of it): mrpc 96 "
            "examples") in block
    assert "- the paper's rows not computed here (marked *): CurveGrad, TextEmb, TaskEmb, FUTE + TaskEmb" in block
    reference = report["paper_reference"]
    assert reference["shown"] and reference["why_not"] is None and "paper_reference" not in report["summary"]
    row = next(r for r in reference["rows"] if r["method"] == "prefix-fute")
    assert row["values"]["cr_in_class_ndcg"] == pytest.approx(0.838) and row["values"]["qa_all_class_rho"] == 4.1
    ours = read_csv(paper_csv.with_name("transfer.csv"))
    assert {r["method"] for r in ours} == {"datasize", "prefix-baseline", "prefix-fute"}  # ours alone
    theirs = {r["method"]: r for r in read_csv(paper_csv)}
    assert theirs["CurveGrad"]["cr_all_class_rho"] == "" and float(theirs["datasize"]["qa_in_class_ndcg"]) == 0.844


def test_a_transfer_table_off_the_paper_pool_says_why_in_its_json_alone(tmp_path, caplog):
    """Its Markdown and CSV stay ours alone (as the demo's); an earlier run's paper CSV is removed."""
    setup = paper_setup(tmp_path, {"mrpc", "rte", "boolq", "squad"})
    setup["out"].parent.mkdir(parents=True)
    (setup["out"].parent / "transfer_paper.csv").write_text("stale")
    caplog.set_level("INFO", logger="data_utils.paper_reference")
    markdown, report, paper_csv = transfer_table(setup)
    assert not paper_csv.exists() and "reported numbers" not in markdown
    reference = report["paper_reference"]
    assert not reference["shown"] and reference["rows"] == []
    assert reference["why_not"].startswith(
        "the paper's sets not in this table (not run, left out, or they did not load): cola, mnli,")
    assert reference["why_not"] in caplog.text
    assert ("sets not in the paper's pool: boolq (boolq is BoolQ as a CR task; the paper's BoolQ is a QA task, "
            "boolq_qa here)") in reference["differences"]


def run(target: str, lm: str | None) -> FinetuneRun:
    identity = DataIdentity(target, "qa" if target in QA else "cr", None, None, "")
    return FinetuneRun(Path(f"{target}.json"), identity, None, 0.5, {}, ScoreRecord(to_train_dataset=target,
                                                                                     lm_model_name=lm))


def embedding(task: str, surrogate: str | None) -> Embedding:
    return Embedding(Path(f"{task}.npy"), EmbeddingInfo(method="prefix-fute", family="prefix", fute=True, kind="DTE",
                                                        dataset=task, genre=None, model=None, llm=False, prompt=None,
                                                        surrogate=surrogate, seed=42, dim=8))


@pytest.mark.parametrize(("lm", "surrogate", "why"), [
    ("bert-base-cased", "t5-base", "LM (fine-tuned on every set): bert-base-cased (the paper's: bert-base-uncased)"),
    ("google-bert/bert-base-uncased", "./t5-base", "surrogate: ./t5-base (the paper's: t5-base)"),
    (None, "t5-base", "LM (fine-tuned on every set): unknown in 22 record(s) written before it was recorded"),
    ("bert-base-uncased", "google-t5/t5-base", None),
])
def test_the_transfer_reference_needs_the_paper_models_by_name(lm, surrogate, why):
    table = SimpleNamespace(classes={d: "cr" if d in CR else "qa" for d in CR | QA}, results={"prefix-fute": {}})
    reference = paper_reference.transfer(table, [run(d, lm) for d in sorted(CR | QA)],
                                         [embedding(d, surrogate) for d in sorted(CR | QA)]).reference
    assert reference.why_not == why and reference.shown == (why is None)


# ---------------------------------------------------------------- the prompt table


def prompt_table(models, sets, dte: Path | None = None):
    """What the prompt reference reads of a prompt table: 13 prompts per (LLM, dataset), MI and a FUTE row whose
    scores come from `dte` for every pair (none: baselines only)."""
    prompt_sets = [SimpleNamespace(model=m, dataset=d, genre=g, runs=[None] * 13)
                   for m in models for g, datasets in sets.items() for d in datasets]
    sources = {(s.model, s.dataset): {"mi": "scores.json", **({"prefix-fute": {"dte": str(dte), "mtes": []}}
                                                              if dte else {})} for s in prompt_sets}
    methods = {"mi", *(["prefix-fute"] if dte else [])}
    return SimpleNamespace(prompt_sets=prompt_sets, sources=sources, evaluations=[SimpleNamespace(methods=methods)])


@pytest.mark.parametrize("surrogate", ["t5-base", "t5-small"])
def test_the_prompt_table_of_the_paper_llms_and_sets_shows_table_b_on_its_surrogate(tmp_path, surrogate):
    write_embedding(tmp_path, "sst2_dte", "sst2", "DTE", "prefix-fute", [1.0, 0.0],
                    {"task_emb_model_lm_name": surrogate})
    table = prompt_table(["llama-13b", "meta-llama/Llama-2-70b-chat-hf", "mixtral"], paper_results.LLM_SETS,
                         tmp_path / "sst2_dte.npy")
    if surrogate != "t5-base":
        assert paper_reference.prompt(table).reference.why_not == (
            "surrogate (FUTE rows): t5-small (the paper's: t5-base)")
        return
    with_reference = paper_reference.prompt(table)
    assert with_reference.prompt_sets is table.prompt_sets  # reads as the table does
    reference = with_reference.reference
    assert reference.shown, reference.why_not
    markdown = reference.markdown()
    assert "| NLI | FUTE + TuPaTE | 37.0 | 75.0 | 71.8 | 50.6 | 98.4 | 81.8 | 40.8 | 81.3 | 44.4 |" in markdown
    assert "| SA | LocalE * |" in markdown and "Llama 2 70B Rate" in markdown
    rows = list(csv.DictReader(reference.csv().splitlines()))
    assert len(rows) == 20 and rows[0]["category"] == "sa" and float(rows[0]["mixtral_ndcg"]) == 0.651


@pytest.mark.parametrize(("models", "sets", "why"), [
    (["llama-13b", "Qwen/Qwen3-8B"], paper_results.LLM_SETS,
     "LLMs not the paper's (Llama 2 13B, Llama 2 70B, Mixtral 8x7B): Qwen/Qwen3-8B"),
    (["mixtral"], {"sa": ("sst2", "imdb"), "nli": ("cb", "anli", "wanli")},
     "mixtral SA datasets: imdb, sst2 (the paper's: sst2, imdb, rotten_tomatoes)"),
])
def test_the_prompt_reference_is_hidden_off_the_paper_setup(models, sets, why):
    reference = paper_reference.prompt(prompt_table(models, sets)).reference
    assert reference.why_not == why and reference.csv() is None and reference.to_json()["rows"] == []
    assert reference.markdown() is None


def test_the_prompt_table_end_to_end_names_why_the_paper_rows_are_not_shown(prompt_sweep):
    s = prompt_sweep
    run_eval.main(["prompt", f"--inference_dir={s['inference']}", f"--baseline_scores={s['baselines']}",
                   f"--emb_dir={s['emb']}", f"--save_path={s['out']}"])
    report = json.loads(s["out"].with_suffix(".json").read_text())
    assert report["paper_reference"]["why_not"] == (
        "llama-13b SA datasets: imdb, sst2 (the paper's: sst2, imdb, rotten_tomatoes)")
    assert "the paper's LLMs not in this table: Llama 2 70B, Mixtral 8x7B" in report["paper_reference"]["differences"]
    assert "reported numbers" not in s["out"].with_suffix(".md").read_text()
