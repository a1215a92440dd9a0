"""run_cr_train.py / run_qa_train.py end to end on tiny BERT, T5 and GPT-2, transfer, and bad input.

Scores are checked against an independent recomputation: the saved checkpoint is
reloaded, run on the dev data here, and the metric is computed with numpy/scipy.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import run_cr_train
import run_qa_train
from data_utils.declarations import DATASETS
from data_utils.errors import FuteError
from modeling.features import tokenize_qa
from task_emb.models import load_task_model, load_tokenizer, save_checkpoint

WORDS_POS = ["great", "good", "lovely", "fine", "happy"]
WORDS_NEG = ["bad", "awful", "poor", "boring", "sad"]


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Small sst2 (single text), mrpc (pair), stsb (regression) and cq (QA) folders."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for split, n in (("train", 24), ("validation", 12)):
        sst2 = [{"sentence": f"the film was {rng.choice(WORDS_POS if i % 2 else WORDS_NEG)} today", "label": i % 2}
                for i in range(n)]
        write_jsonl(root / "sst2" / f"{split}.jsonl", sst2)
        mrpc = [{"sentence1": f"he said it was {w}", "sentence2": f"it was {w if i % 2 else 'not ' + w}",
                 "label": i % 2} for i, w in enumerate(rng.choice(WORDS_POS, n))]
        write_jsonl(root / "mrpc" / f"{split}.jsonl", mrpc)
        stsb = [{"sentence1": "a man plays", "sentence2": f"a man {'plays' if i % 3 else 'sleeps'} now",
                 "label": float(i % 5)} for i in range(n)]
        write_jsonl(root / "stsb" / f"{split}.jsonl", stsb)
        cq = []
        for i in range(n):
            city = ["Paris", "Lima", "Oslo", "Cairo"][i % 4]
            context = f"Anna was born in {city} and moved away."
            answers = {"text": [city], "answer_start": [context.index(city)]} if i % 4 else \
                {"text": [], "answer_start": []}
            cq.append({"id": f"{split}-{i}", "title": "t", "context": context,
                       "question": "Where was Anna born?", "answers": answers})
        write_jsonl(root / "cq" / f"{split}.jsonl", cq)
    return root


def cr_args(data, out, dataset, model, *extra):
    return ["--to_train_dataset", dataset, "--dataset_path", str(data / dataset), "--lm_model_name", str(model),
            "--model_save_path", str(out / f"{dataset}_ckpt"), "--score_save_path", str(out / f"{dataset}_score"),
            "--max_epochs", "1", "--batch_size", "8", "--learning_rate", "1e-3", *extra]


def dev_logits(checkpoint, rows, pair_keys):
    """Reload the saved checkpoint and run it on dev rows, independently of the project's code paths."""
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    texts = [r[pair_keys[0]] for r in rows]
    pairs = [r[pair_keys[1]] for r in rows] if len(pair_keys) == 2 else None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    with torch.no_grad():
        logits = [model(**tokenizer(texts[i:i + 1], pairs[i:i + 1] if pairs else None, return_tensors="pt")).logits
                  for i in range(len(rows))]
    return torch.cat(logits).numpy()


def read_rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("model_fixture", ["tiny_bert", "tiny_gpt2"])
def test_cr_classification_writes_checkpoint_scores_and_record(data, tmp_path, request, model_fixture):
    model = request.getfixturevalue(model_fixture)
    scores = run_cr_train.main(cr_args(data, tmp_path, "sst2", model))
    saved = json.loads((tmp_path / "sst2_score.json").read_text())
    assert saved == pytest.approx(scores)
    assert set(saved) == {"accuracy", "all", "loss", "best"}
    assert (tmp_path / "sst2_ckpt" / "torch_checkpoint.pt").is_file()
    record = json.loads((tmp_path / "sst2_score.record.json").read_text())
    assert record["config"]["to_train_dataset"] == "sst2" and record["config"]["seed"] == 42
    assert record["config"]["source_dataset"] is None and "torch" in record["versions"]
    # The command as it would be typed, whoever called main() (here pytest).
    assert record["command"] == " ".join(["run_cr_train.py", *map(str, cr_args(data, tmp_path, "sst2", model))])

    # Reloaded checkpoint, one example at a time (no padding): same accuracy as reported.
    rows = read_rows(data / "sst2" / "validation.jsonl")
    logits = dev_logits(tmp_path / "sst2_ckpt" / "hf_checkpoint", rows, ("sentence",))
    accuracy = np.mean(logits.argmax(1) == np.array([r["label"] for r in rows]))
    assert saved["accuracy"] == pytest.approx(accuracy) and saved["best"] == saved["accuracy"]
    # The guess to beat: the majority class's accuracy on the same dev rows, counted here.
    gold = [r["label"] for r in rows]
    majority = max(set(gold), key=gold.count)
    assert record["config"]["dev_guess"] == {"score": pytest.approx(gold.count(majority) / len(gold)),
                                             "guess": f"always {('negative', 'positive')[majority]}"}


def test_cr_regression_on_t5_reports_spearman(data, tmp_path, tiny_t5):
    scores = run_cr_train.main(cr_args(data, tmp_path, "stsb", tiny_t5))
    assert json.loads((tmp_path / "stsb_score.record.json").read_text())["config"]["dev_guess"] is None  # regression
    rows = read_rows(data / "stsb" / "validation.jsonl")
    logits = dev_logits(tmp_path / "stsb_ckpt" / "hf_checkpoint", rows, ("sentence1", "sentence2"))
    gold = [r["label"] for r in rows]
    assert scores["spearmanr"] == pytest.approx(stats.spearmanr(logits[:, 0], gold).statistic, abs=1e-5)
    assert scores["pearsonr"] == pytest.approx(stats.pearsonr(logits[:, 0], gold).statistic, abs=1e-5)
    assert scores["best"] == scores["spearmanr"]


@pytest.mark.parametrize("model_fixture", ["tiny_bert", "tiny_t5", "tiny_gpt2"])
def test_qa_fine_tuning_reports_squad_v2_scores(data, tmp_path, request, model_fixture):
    model = request.getfixturevalue(model_fixture)
    scores = run_qa_train.main(cr_args(data, tmp_path, "cq", model, "--max_len", "64"))
    for key in ("exact", "f1", "HasAns_f1", "NoAns_f1", "best_f1", "loss", "best"):
        assert key in scores
    assert scores["best"] == scores["f1"] and 0.0 <= scores["f1"] <= 1.0
    assert (tmp_path / "cq_ckpt" / "hf_checkpoint" / "config.json").is_file()
    assert json.loads((tmp_path / "cq_score.record.json").read_text())["command"].startswith("run_qa_train.py ")


def test_same_seed_gives_the_same_scores(data, tmp_path, tiny_bert):
    first = run_cr_train.main(cr_args(data, tmp_path / "a", "mrpc", tiny_bert))
    second = run_cr_train.main(cr_args(data, tmp_path / "b", "mrpc", tiny_bert))
    assert first == second


def test_qa_answer_span_maps_to_the_answer_tokens(tiny_bert):
    tokenizer = load_tokenizer(str(tiny_bert))
    context = "Anna was born in Paris and moved away."
    examples = [{"id": "a", "question": "Where?", "context": context,
                 "answers": {"text": ["Paris"], "answer_start": [context.index("Paris")]}},
                {"id": "b", "question": "Who?", "context": context, "answers": {"text": [], "answer_start": []}}]
    features, meta = tokenize_qa(examples, tokenizer, max_len=64)
    start, end = features[0]["start_positions"], features[0]["end_positions"]
    spans = meta["offsets"][0]
    assert context[spans[start][0]:spans[end][1]] == "Paris"
    assert (features[1]["start_positions"], features[1]["end_positions"]) == (0, 0)
    assert meta["offsets"][0][0] is None  # [CLS] is outside the context


def test_a_question_longer_than_max_len_names_the_flag(tiny_bert):
    tokenizer = load_tokenizer(str(tiny_bert))
    example = {"id": "a", "question": "where " * 40, "context": "Anna was born in Paris.",
               "answers": {"text": [], "answer_start": []}}
    with pytest.raises(FuteError, match=r"a question of \d+ tokens .* --max_len 32; raise --max_len"):
        tokenize_qa([example], tokenizer, max_len=32)


@pytest.fixture(scope="module")
def source(data, tmp_path_factory, tiny_bert):
    """An sst2 and a cq checkpoint of the tiny BERT, the sources of the transfer tests."""
    out = tmp_path_factory.mktemp("source")
    run_cr_train.main(cr_args(data, out, "sst2", tiny_bert))
    run_qa_train.main(cr_args(data, out, "cq", tiny_bert, "--max_len", "64"))
    return out


class TestTransfer:
    @staticmethod
    def state(path):
        return torch.load(path / "torch_checkpoint.pt")

    def test_same_shape_head_is_kept(self, source, tiny_bert):
        tokenizer = load_tokenizer(str(tiny_bert))
        model = load_task_model(DATASETS["mrpc"], str(tiny_bert), tokenizer, str(source / "sst2_ckpt"))
        saved = self.state(source / "sst2_ckpt")
        for name, value in model.state_dict().items():
            assert torch.equal(value, saved[name]), name

    def test_other_shape_head_is_reinitialised_and_backbone_kept(self, source, tiny_bert):
        tokenizer = load_tokenizer(str(tiny_bert))
        model = load_task_model(DATASETS["stsb"], str(tiny_bert), tokenizer, str(source / "sst2_ckpt"))
        saved = self.state(source / "sst2_ckpt")
        assert model.classifier.weight.shape[0] == 1 and saved["classifier.weight"].shape[0] == 2
        assert torch.equal(model.bert.encoder.layer[0].attention.self.query.weight,
                           saved["bert.encoder.layer.0.attention.self.query.weight"])

    def test_qa_to_cr_keeps_the_backbone(self, source, tiny_bert):
        tokenizer = load_tokenizer(str(tiny_bert))
        model = load_task_model(DATASETS["mrpc"], str(tiny_bert), tokenizer, str(source / "cq_ckpt"))
        saved = self.state(source / "cq_ckpt")
        assert torch.equal(model.bert.embeddings.word_embeddings.weight, saved["bert.embeddings.word_embeddings.weight"])

    def test_cr_to_qa_from_a_regression_model_gets_a_two_logit_head(self, data, tmp_path, tiny_bert):
        """A regression source's config says num_labels 1; QA needs start and end logits."""
        run_cr_train.main(cr_args(data, tmp_path, "stsb", tiny_bert))
        scores = run_qa_train.main(cr_args(data, tmp_path / "qa", "cq", tiny_bert, "--max_len", "64",
                                           "--load_path", str(tmp_path / "stsb_ckpt")))
        assert "exact" in json.dumps(scores)
        model = load_task_model(DATASETS["cq"], str(tiny_bert), load_tokenizer(str(tiny_bert)), str(tmp_path / "stsb_ckpt"))
        assert model.qa_outputs.out_features == 2
        saved = self.state(tmp_path / "stsb_ckpt")
        assert torch.equal(model.bert.embeddings.word_embeddings.weight, saved["bert.embeddings.word_embeddings.weight"])

    def test_transfer_run_records_its_source(self, data, source, tmp_path, tiny_bert):
        run_cr_train.main(cr_args(data, tmp_path, "mrpc", tiny_bert, "--load_path", str(source / "sst2_ckpt")))
        record = json.loads((tmp_path / "mrpc_score.record.json").read_text())
        assert record["config"]["source_dataset"] == "sst2"
        assert record["config"]["to_train_dataset"] == "mrpc"


class TestBadInput:
    def test_unknown_dataset(self, data, tmp_path, tiny_bert):
        with pytest.raises(FuteError, match="unknown dataset 'sst3'.*known: .*sst2"):
            run_cr_train.main(["--to_train_dataset", "sst3", "--lm_model_name", str(tiny_bert),
                               "--model_save_path", str(tmp_path / "m"), "--score_save_path", str(tmp_path / "s")])

    def test_missing_load_path(self, data, tmp_path, tiny_bert):
        with pytest.raises(FuteError, match="--load_path .*does not exist"):
            run_cr_train.main(cr_args(data, tmp_path, "sst2", tiny_bert, "--load_path", str(tmp_path / "nowhere")))

    def test_local_file_missing_a_field(self, tmp_path, tiny_bert):
        write_jsonl(tmp_path / "d" / "train.jsonl", [{"text": "a", "label": 0}])
        write_jsonl(tmp_path / "d" / "validation.jsonl", [{"text": "a", "label": 0}])
        args = cr_args(tmp_path, tmp_path, "sst2", tiny_bert)
        args[args.index("--dataset_path") + 1] = str(tmp_path / "d")
        with pytest.raises(FuteError, match="no field 'sentence'"):
            run_cr_train.main(args)

    def test_empty_dataset(self, tmp_path, tiny_bert):
        write_jsonl(tmp_path / "sst2" / "train.jsonl", [])
        write_jsonl(tmp_path / "sst2" / "validation.jsonl", [{"sentence": "a", "label": 0}])
        with pytest.raises(FuteError, match=r"sst2/train.jsonl is empty \(0 bytes\)"):
            run_cr_train.main(cr_args(tmp_path, tmp_path, "sst2", tiny_bert))

    def test_unwritable_score_folder_fails_before_training(self, data, tmp_path, tiny_bert):
        blocker = tmp_path / "a_file"
        blocker.write_text("not a folder")
        args = cr_args(data, tmp_path, "sst2", tiny_bert)
        args[args.index("--score_save_path") + 1] = str(blocker / "score")
        with pytest.raises(FuteError, match="cannot create the folder"):
            run_cr_train.main(args)
        assert not (tmp_path / "sst2_ckpt").exists()

    def test_existing_scores_are_not_overwritten_silently(self, data, tmp_path, tiny_bert):
        (tmp_path / "sst2_score.json").write_text('{"best": 0.9}')
        with pytest.raises(FuteError, match="already exists; pass --overwrite True"):
            run_cr_train.main(cr_args(data, tmp_path, "sst2", tiny_bert))
        assert (tmp_path / "sst2_score.json").read_text() == '{"best": 0.9}'

    def test_existing_checkpoint_is_not_overwritten_silently(self, data, tmp_path, tiny_bert):
        run_cr_train.main(cr_args(data, tmp_path, "sst2", tiny_bert))
        before = (tmp_path / "sst2_ckpt" / "torch_checkpoint.pt").read_bytes()
        args = cr_args(data, tmp_path, "sst2", tiny_bert)
        args[args.index("--score_save_path") + 1] = str(tmp_path / "other_score")
        with pytest.raises(FuteError, match=r"already holds a checkpoint \(.*\); pass --overwrite True"):
            run_cr_train.main(args)
        assert (tmp_path / "sst2_ckpt" / "torch_checkpoint.pt").read_bytes() == before
        assert not (tmp_path / "other_score.json").exists()

    def test_command_line_error_is_one_line_and_exit_status_2(self, tmp_path):
        result = subprocess.run(
            [sys.executable, "run_cr_train.py", "--to_train_dataset", "sst3", "--lm_model_name", "x",
             "--model_save_path", str(tmp_path / "m"), "--score_save_path", str(tmp_path / "s")],
            capture_output=True, text=True, cwd=Path(__file__).parents[1])
        assert result.returncode == 2
        error_lines = [line for line in result.stderr.splitlines() if "ERROR" in line]
        assert len(error_lines) == 1 and "unknown dataset 'sst3'" in error_lines[0]


@pytest.mark.parametrize("model_fixture", ["tiny_bert", "tiny_t5"])
@pytest.mark.parametrize("num_labels", [2, 3])
def test_a_checkpoint_with_a_head_of_another_shape_is_a_base_model(data, tmp_path, request, model_fixture,
                                                                    num_labels):
    """A checkpoint folder this project wrote (or a hub model fine-tuned elsewhere, carrying a 2- or 3-label head)
    given as --lm_model_name for regression: the backbone is read, the head is new."""
    base = request.getfixturevalue(model_fixture)
    tokenizer = load_tokenizer(str(base))
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=num_labels)
    save_checkpoint(model, tokenizer, str(tmp_path / "fine_tuned"))
    scores = run_cr_train.main(cr_args(data, tmp_path, "stsb", tmp_path / "fine_tuned"))
    assert "spearmanr" in scores
    tuned = AutoModelForSequenceClassification.from_pretrained(tmp_path / "stsb_ckpt" / "hf_checkpoint")
    assert tuned.config.num_labels == 1
    # The same tokenizer files: the checkpoint's hf_checkpoint/ folder was read, not the bare folder.
    assert (tmp_path / "stsb_ckpt" / "hf_checkpoint" / "tokenizer_config.json").is_file()
    # 1 epoch at lr 1e-3 moves the backbone, so compare the starting point instead: loaded as run_cr_train does.
    start = load_task_model(DATASETS["stsb"], str(tmp_path / "fine_tuned"), tokenizer)
    for name, value in model.base_model.state_dict().items():
        assert torch.equal(value, start.base_model.state_dict()[name]), name


def test_without_model_save_path_only_scores_are_written(data, tmp_path, tiny_bert):
    args = cr_args(data, tmp_path, "sst2", tiny_bert)
    index = args.index("--model_save_path")
    del args[index:index + 2]
    run_cr_train.main(args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sst2_score.json", "sst2_score.record.json"]


class TestCheckpointRecord:
    """One helper tells which dataset a checkpoint was fine-tuned on (run_task_emb and transfer runs)."""

    @staticmethod
    def checkpoint(folder: Path, record: dict | None, bare: bool = False) -> Path:
        """A save_checkpoint layout (folder/hf_checkpoint/config.json + folder/fute_record.json), or a bare HF
        folder; resolve_checkpoint only needs config.json."""
        hf = folder if bare else folder / "hf_checkpoint"
        hf.mkdir(parents=True)
        (hf / "config.json").write_text("{}")
        if record is not None:
            (folder / "fute_record.json").write_text(json.dumps(record))
        return folder

    def test_record_is_found_from_the_folder_and_from_hf_checkpoint(self, tmp_path):
        from data_utils.artifacts.scores import ScoreRecord
        from task_emb.models import fine_tuned_record
        from task_emb.pipeline import model_dataset_of

        folder = self.checkpoint(tmp_path / "m", {"config": {"to_train_dataset": "mrpc"}})
        assert fine_tuned_record(str(folder)) == fine_tuned_record(str(folder / "hf_checkpoint")) == ScoreRecord(
            to_train_dataset="mrpc")
        spec, data = model_dataset_of(str(folder / "hf_checkpoint"), None)
        assert spec.name == "mrpc" and data["digest"] is None  # a record from before the data was recorded
        assert model_dataset_of(str(folder), "mrpc")[0].name == "mrpc"
        with pytest.raises(FuteError, match="was fine-tuned on mrpc .* not on sst2"):
            model_dataset_of(str(folder), "sst2")  # a flag that contradicts the record

    def test_a_bare_folder_does_not_read_its_parents_record(self, tmp_path):
        from task_emb.models import fine_tuned_record
        from task_emb.pipeline import model_dataset_of

        (tmp_path / "fute_record.json").write_text(json.dumps({"config": {"to_train_dataset": "mrpc"}}))
        bare = self.checkpoint(tmp_path / "other_model", None, bare=True)
        assert fine_tuned_record(str(bare)) is None
        with pytest.raises(FuteError, match="cannot tell which dataset .* pass --to_train_dataset"):
            model_dataset_of(str(bare), None)

    def test_a_record_without_the_dataset_is_a_one_line_error(self, tmp_path, data, tiny_bert):
        from task_emb.pipeline import model_dataset_of

        folder = self.checkpoint(tmp_path / "m", {"config": {"lm_model_name": "x"}})
        with pytest.raises(FuteError, match=r"fute_record.json has no config.to_train_dataset"):
            model_dataset_of(str(folder), None)
        # A transfer run stops on it before training.
        with pytest.raises(FuteError, match=r"has no config.to_train_dataset"):
            run_cr_train.main(cr_args(data, tmp_path, "sst2", tiny_bert, "--load_path", str(folder)))
        assert not (tmp_path / "sst2_score.json").exists()


@pytest.mark.parametrize("flag,value", [("--gradient_accumulation_steps", "0"), ("--max_epochs", "0"),
                                        ("--batch_size", "0"), ("--max_len", "0")])
def test_sizes_below_one_are_refused_before_any_model_loads(tmp_path, flag, value):
    with pytest.raises(FuteError, match=f"{flag} must be at least 1, got {value}"):
        run_cr_train.main(["--to_train_dataset", "sst2", "--lm_model_name", str(tmp_path / "no_model"),
                           "--score_save_path", str(tmp_path / "s"), flag, value])


@pytest.mark.slow
def test_a_fine_tune_killed_after_its_first_epoch_resumes_to_the_uninterrupted_scores(tmp_path, tiny_bert,
                                                                                      one_torch_thread):
    """A real kill -9 of run_cr_train.py once its first epoch is saved; the same command run again continues
    from that epoch (shuffled data, dropout) and ends with the scores of a run never interrupted."""
    import os
    import signal
    import time

    repo = Path(__file__).resolve().parent.parent

    def command(name: str) -> list[str]:
        return [sys.executable, "run_cr_train.py", "--to_train_dataset", "sst2", "--dataset_path",
                str(repo / "data" / "samples" / "sst2"), "--lm_model_name", str(tiny_bert), "--max_epochs", "3", "--max_train_examples", "120",
                "--batch_size", "4", "--data_loader_shuffle", "True", "--learning_rate", "1e-3", "--device", "cpu",
                "--score_save_path", str(tmp_path / name), "--model_save_path", str(tmp_path / f"{name}_ckpt")]

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}  # one thread, as here
    run_cr_train.main(command("full")[2:])  # the uninterrupted run, in this process
    state = tmp_path / "resumed.training_state.pt"
    process = subprocess.Popen(command("resumed"), cwd=repo, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    while not state.exists() and process.poll() is None:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert not (tmp_path / "resumed.json").exists(), "the run finished before it could be killed"
    killed_after = torch.load(state, weights_only=False)["epoch"]
    assert 1 <= killed_after < 3
    again = subprocess.run(command("resumed"), cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resuming after epoch {killed_after}" in again.stderr
    full = json.loads((tmp_path / "full.json").read_text())
    resumed = json.loads((tmp_path / "resumed.json").read_text())
    assert resumed == pytest.approx(full, abs=1e-6)
    assert not state.exists()  # deleted once the outputs were written


class TestNoLabelAndNonFinite:
    """The hub's -1 in stsb, a training run that diverges, a model whose outputs are NaN: an error, never a score."""

    @staticmethod
    def stsb(folder, dev_label):
        train = [{"sentence1": "a man plays", "sentence2": f"a man sleeps {i}", "label": -1 if i == 5 else i % 5}
                 for i in range(24)]
        write_jsonl(folder / "stsb" / "train.jsonl", train)
        write_jsonl(folder / "stsb" / "validation.jsonl", [{**row, "label": dev_label} for row in train[:8]])

    def test_an_all_minus_one_dev_split_is_the_unlabelled_split_error(self, tmp_path, tiny_bert):
        self.stsb(tmp_path, -1)
        with pytest.raises(FuteError, match=r"stsb dev .*: 8 of 8 examples have no gold label; is this an unlabelled "
                                            r"\(test\) split\?"):
            run_cr_train.main(cr_args(tmp_path, tmp_path, "stsb", tiny_bert))
        assert not (tmp_path / "stsb_score.json").exists()

    def test_minus_one_in_stsb_train_is_left_out_not_learned(self, tmp_path, tiny_bert):
        from data_utils.artifacts.scores import read_finetune_score

        self.stsb(tmp_path, 2.5)
        run_cr_train.main(cr_args(tmp_path, tmp_path, "stsb", tiny_bert, "--max_train_examples", "30"))
        config = json.loads((tmp_path / "stsb_score.record.json").read_text())["config"]
        assert (config["num_train_examples"], config["num_dev_examples"]) == (23, 8)
        # what the paper's reference block reads of it (data_utils/paper_reference.py)
        about = read_finetune_score(tmp_path / "stsb_score.json").about
        assert (about.lm_model_name, about.max_train_examples) == (str(tiny_bert), 30)

    def test_a_diverging_fine_tune_stops_and_writes_no_score(self, data, tmp_path, tiny_bert):
        args = cr_args(data, tmp_path, "stsb", tiny_bert)
        args[args.index("--learning_rate") + 1] = "1e30"
        with pytest.raises(FuteError, match=r"^stsb: the training loss is (nan|inf) at epoch 1, step [23] of 3; .*"
                                            r"training diverged; lower --learning_rate \(now 1e\+30\)$"):
            run_cr_train.main(args)
        assert not (tmp_path / "stsb_score.json").exists()
        assert not (tmp_path / "stsb_ckpt" / "torch_checkpoint.pt").exists()

    @pytest.mark.parametrize("dataset", ["sst2", "stsb"])
    def test_a_model_with_non_finite_weights_is_not_scored(self, data, tiny_bert, dataset):
        from modeling.features import make_loader, tokenize_cr
        from data_utils.loading import load_examples
        from task_emb.evaluation import evaluate_cr

        spec, tokenizer = DATASETS[dataset], load_tokenizer(str(tiny_bert))
        model = load_task_model(spec, str(tiny_bert), tokenizer)
        with torch.no_grad():
            model.classifier.weight[0, 0] = float("nan")
        dev = load_examples(spec, str(data / dataset))["dev"]
        batches = list(make_loader(tokenize_cr(dev, tokenizer, 32), tokenizer, 4, shuffle=False))
        with pytest.raises(FuteError, match=r"the model gives non-finite logits for input 0 \(counted from 0; 4 of the "
                                            r"4 in its batch\): its weights are not finite"):
            evaluate_cr(model, batches, spec, torch.device("cpu"))
