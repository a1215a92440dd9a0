"""--max_len beyond the positions a model has is refused before any data is read or model run (issue 23, D8)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from transformers import AutoConfig

import run_cr_train
import run_qa_train
import run_task_emb
from data_utils.errors import FuteError
from modeling.hf_compat import position_limit
from task_emb import pipeline

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
POOL = SAMPLES / "unsup_pool.jsonl"


@pytest.mark.parametrize("family, limit", [("bert", 512), ("roberta", 512), ("gpt2", 512), ("llama", 512),
                                           ("t5", None)])
def test_position_limit_of_each_family(request, family, limit):
    """RoBERTa's table has 514 rows (tests/tiny_models.py, as roberta-base) and numbers positions from pad + 1."""
    config = AutoConfig.from_pretrained(request.getfixturevalue(f"tiny_{family}"))
    assert position_limit(config) == limit


def short_bert(source: Path, folder: Path, positions: int) -> Path:
    """A copy of tiny BERT whose config says it has `positions` positions (the check reads no weights)."""
    shutil.copytree(source, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "max_position_embeddings": positions}))
    return folder


def finetune_args(script_task: str, model: Path, tmp_path: Path, max_len: int) -> list[str]:
    dataset = "sst2" if script_task == "cr" else "cq"
    return ["--to_train_dataset", dataset, "--dataset_path", str(SAMPLES / dataset), "--lm_model_name", str(model),
            "--max_len", str(max_len), "--score_save_path", str(tmp_path / "score"),
            "--model_save_path", str(tmp_path / "ckpt")]


@pytest.mark.parametrize("script, family, max_len, limit", [
    (run_cr_train, "bert", 513, 512), (run_cr_train, "roberta", 513, 512), (run_qa_train, "short", 96, 64)])
def test_fine_tuning_refuses_a_max_len_beyond_the_models_positions(request, tmp_path, tiny_bert, script, family,
                                                                   max_len, limit):
    model = (short_bert(tiny_bert, tmp_path / "short", limit) if family == "short"
             else request.getfixturevalue(f"tiny_{family}"))
    with pytest.raises(FuteError, match=rf"^--max_len {max_len} is longer than .* takes: {limit} positions \(its "
                                        rf"max_position_embeddings\); pass --max_len {limit} or less$"):
        script.main(finetune_args(script.TASK, model, tmp_path, max_len))
    assert not (tmp_path / "score.json").exists() and not (tmp_path / "ckpt").exists()


def test_the_prefix_positions_count_against_the_surrogates(tiny_bert, tiny_t5):
    pipeline.check_input_length("fim", str(tiny_bert), 512)
    pipeline.check_input_length("prefix", str(tiny_bert), 496)
    pipeline.check_input_length("prefix", str(tiny_t5), 4096)  # relative positions: no limit
    with pytest.raises(FuteError, match=r"--max_len 497 is longer than .* takes: 512 positions \(its "
                                        r"max_position_embeddings\), 16 of them taken by the prefix; pass --max_len "
                                        r"496 or less"):
        pipeline.check_input_length("prefix", str(tiny_bert), 497)


def test_an_mte_refuses_a_max_len_beyond_the_fine_tuned_models_positions(tmp_path, tiny_bert, tiny_t5, monkeypatch):
    """The T5 surrogate takes any length; M, read on x' at --max_len, does not."""
    m = short_bert(tiny_bert, tmp_path / "m", 64)
    monkeypatch.setattr(pipeline, "model_training_set", lambda *a, **k: pytest.fail("the model was run"))
    with pytest.raises(FuteError, match=rf"--max_len 96 is longer than {m} takes: 64 positions"):
        run_task_emb.main(["--task_type", "cr", "--input_type", "model", "--task_emb_type", "fim", "--load_path",
                           str(m), "--to_train_dataset", "sst2", "--task_emb_model_lm_name", str(tiny_t5),
                           "--unsup_data_path", str(POOL), "--max_len", "96", "--save_path", str(tmp_path / "mte")])
    assert not (tmp_path / "mte.npy").exists()


# ----------------------------------------------------------------------------- LLM scoring

def llama_with_positions(source: Path, folder: Path, positions: int) -> Path:
    """A copy of tiny Llama that says it has `positions` positions (rotary: the weights are the same)."""
    shutil.copytree(source, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "max_position_embeddings": positions}))
    return folder


@pytest.mark.parametrize("cot", [False, True])
def test_llm_scoring_refuses_a_prompt_or_generation_past_the_models_positions(tmp_path, tiny_llama, cot):
    """A vanilla prompt longer than the model's positions; a CoT prompt that fits, whose reasoning would not.
    Before, a rotary model ran on at positions it was never trained on (exit 0)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llm_inference.prompts import load_prompt
    from llm_inference.scoring import PromptScorer, generation_settings

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    prompt = load_prompt("sa", 10 if cot else 0)
    example = {"text": "The movie was good and I would watch it again."}
    probe = PromptScorer(AutoModelForCausalLM.from_pretrained(tiny_llama), tokenizer, prompt)
    length = len(probe.greedy.encode(probe.first_turn(example)[1]))
    limit = length + 2 if cot else length - 1
    model = AutoModelForCausalLM.from_pretrained(llama_with_positions(tiny_llama, tmp_path / "llama", limit)).eval()
    scorer = PromptScorer(model, tokenizer, prompt, generation_settings(cot_max_new_tokens=8))
    reached = length + 3 if cot else length
    with pytest.raises(FuteError, match=rf"reach {reached} tokens, more than the {limit} positions of .*llama \(its "
                                        rf"max_position_embeddings\); shorten"):
        scorer.score([example])
