"""modeling/hf_compat.py: the cache keyword on both sides of transformers' `past_key_values` -> `cache`
rename, the returned cache under either name, and the reduced load report."""
from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from data_utils.errors import FuteError
from llm_inference.prompts import load_prompt
from llm_inference.scoring import PromptScorer, generation_settings
from modeling.hf_compat import cache_keyword, head_parameter_names, load_pretrained, returned_cache
from task_emb.prefix import PrefixTaskModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def installed_keyword(module: nn.Module) -> str:
    """How the real tiny model takes its cache, read here independently of the adapter."""
    return "cache" if "cache" in inspect.signature(type(module).forward).parameters else "past_key_values"


def installed_output_cache(output) -> Any:
    return output["cache"] if "cache" in output else output[1]  # transformers 5.0: (logits, past_key_values)


# ------------------------------------------------------------------- backbones named one way only


class _Backbone(nn.Module):
    """Wraps a real backbone; subclasses take the cache under one name only."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.received = 0

    def _call(self, cache, kwargs):
        self.received += cache is not None
        return self.inner(**kwargs, **{installed_keyword(self.inner): cache})


class BackboneTakingCache(_Backbone):
    def forward(self, input_ids=None, cache=None, **kwargs):
        return self._call(cache, dict(kwargs, input_ids=input_ids))


class BackboneTakingPastKeyValues(_Backbone):
    def forward(self, input_ids=None, past_key_values=None, **kwargs):
        return self._call(past_key_values, dict(kwargs, input_ids=input_ids))


@pytest.mark.parametrize("wrapper", [BackboneTakingCache, BackboneTakingPastKeyValues])
def test_prefix_model_gives_identical_logits_under_either_keyword(tiny_bert, wrapper):
    def model():
        torch.manual_seed(0)  # the same new classifier head in both models
        return AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=3)

    plain = PrefixTaskModel(model(), seed=0).eval()
    renamed_model = model()
    renamed_model.bert = wrapper(renamed_model.bert)
    renamed = PrefixTaskModel(renamed_model, seed=0).eval()
    assert cache_keyword(renamed_model.bert) == ("cache" if wrapper is BackboneTakingCache else "past_key_values")
    batch = {"input_ids": torch.randint(5, 100, (3, 7), generator=torch.Generator().manual_seed(0)),
             "attention_mask": torch.ones(3, 7, dtype=torch.long)}
    with torch.no_grad():
        expected = plain(**batch).logits
        got = renamed(**batch).logits
    assert renamed_model.bert.received == 1
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_prefix_model_refuses_a_backbone_that_drops_the_cache(tiny_bert):
    class DropsCache(_Backbone):
        def forward(self, input_ids=None, cache=None, **kwargs):
            return self._call(None, dict(kwargs, input_ids=input_ids))

    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=2)
    model.bert = DropsCache(model.bert)
    prefixed = PrefixTaskModel(model, seed=0)
    with pytest.raises(FuteError, match="did not read the prefix key/value cache"):
        prefixed(input_ids=torch.tensor([[5, 6, 7]]))


# ------------------------------------------------------------------ causal LMs named one way only


@dataclass
class OutputWithCache:
    logits: torch.Tensor
    cache: Any


@dataclass
class OutputWithPastKeyValues:
    logits: torch.Tensor
    past_key_values: Any


class _CausalLM(nn.Module):
    """A causal LM that takes and returns its cache under one name only (the scorer's view of a model)."""

    def __init__(self, inner) -> None:
        super().__init__()
        self.inner = inner
        self.generation_config = inner.generation_config
        self.calls_with_cache = 0

    @property
    def device(self):
        return self.inner.device

    def _call(self, cache, **kwargs):
        self.calls_with_cache += cache is not None
        out = self.inner(**kwargs, return_dict=True, **{installed_keyword(self.inner): cache})
        return out.logits, installed_output_cache(out)


class CausalLMTakingCache(_CausalLM):
    def forward(self, input_ids, attention_mask=None, position_ids=None, use_cache=None, logits_to_keep=0,
                cache=None):
        return OutputWithCache(*self._call(cache, input_ids=input_ids, attention_mask=attention_mask,
                                           position_ids=position_ids, use_cache=use_cache,
                                           logits_to_keep=logits_to_keep))


class CausalLMTakingPastKeyValues(_CausalLM):
    def forward(self, input_ids, attention_mask=None, position_ids=None, use_cache=None, logits_to_keep=0,
                past_key_values=None):
        return OutputWithPastKeyValues(*self._call(past_key_values, input_ids=input_ids,
                                                   attention_mask=attention_mask, position_ids=position_ids,
                                                   use_cache=use_cache, logits_to_keep=logits_to_keep))


SA = [{"text": "The movie was good and I would watch it again."}, {"text": "Boring."}]


@pytest.mark.parametrize("wrapper", [CausalLMTakingCache, CausalLMTakingPastKeyValues])
def test_scorer_gives_identical_scores_under_either_keyword(tiny_llama, wrapper):
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    prompt = load_prompt("sa", 10)  # chain of thought: a reasoning turn of several incremental steps
    settings = generation_settings(cot_max_new_tokens=6)
    expected = PromptScorer(model, tokenizer, prompt, settings).score(SA)
    renamed = wrapper(model)
    got = PromptScorer(renamed, tokenizer, prompt, settings).score(SA)
    assert renamed.calls_with_cache > 0  # the incremental steps went through the renamed keyword
    for ours, theirs in zip(got, expected):
        assert ours.word_scores == theirs.word_scores
        assert ours.answer == theirs.answer and ours.answer_step == theirs.answer_step
        assert ours.prompt_ppl == theirs.prompt_ppl and ours.chat_history == theirs.chat_history


def test_returned_cache_reads_either_field_or_none():
    assert returned_cache(OutputWithCache(torch.zeros(1), "new")) == "new"
    assert returned_cache(OutputWithPastKeyValues(torch.zeros(1), "old")) == "old"
    assert returned_cache(OutputWithCache(torch.zeros(1), None)) is None


def test_cache_keyword_of_real_models_and_a_module_without_one(tiny_llama, tiny_bert):
    llama = AutoModelForCausalLM.from_pretrained(tiny_llama)
    assert cache_keyword(llama) == installed_keyword(llama)
    bert = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=2)
    assert cache_keyword(bert) == installed_keyword(bert.bert)  # the head's forward names none: its backbone's

    class NoCache(nn.Module):
        def forward(self, input_ids):
            return input_ids

    with pytest.raises(FuteError, match="NoCache.forward takes no key/value cache"):
        cache_keyword(NoCache())


# ------------------------------------------------------------------------------- load reports


def test_a_new_head_gives_one_info_line_and_no_table(tiny_bert, caplog, hf_records):
    with caplog.at_level(logging.INFO, logger="modeling.hf_compat"):
        model = load_pretrained(AutoModelForSequenceClassification, str(tiny_bert), num_labels=2)
    lines = [r.getMessage() for r in caplog.records if r.name == "modeling.hf_compat"]
    assert len(lines) == 1 and caplog.records[-1].levelno == logging.INFO
    assert "dropped checkpoint weights BertForSequenceClassification has no place for: cls." in lines[0]  # the MLM head of the tiny BERT
    assert not [r for r in hf_records if "LOAD REPORT" in r.getMessage()]
    # The tiny BERT is a masked LM: no pooler in its checkpoint, a new one for the classifier.
    assert "initialised new head weights bert.pooler.dense.bias, bert.pooler.dense.weight, classifier.bias" in lines[0]
    assert head_parameter_names(model) == {"classifier.weight", "classifier.bias",
                                           "bert.pooler.dense.weight", "bert.pooler.dense.bias"}


def test_a_missing_backbone_weight_is_an_error_not_a_table(tiny_bert, tmp_path, hf_records):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=2)
    model.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    lost = next(name for name in weights if "encoder.layer.0.attention" in name and name.endswith("weight"))
    del weights[lost]
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    hf_records.clear()  # the report of the plain load above
    with pytest.raises(FuteError, match=rf"1 backbone weight\(s\) of BertForSequenceClassification .*{lost}"):
        load_pretrained(AutoModelForSequenceClassification, str(tmp_path))
    assert not [r for r in hf_records if "LOAD REPORT" in r.getMessage()]


def test_a_load_error_still_shows_transformers_table(tiny_bert, tmp_path, hf_records):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=2)
    model.save_pretrained(tmp_path)
    hf_records.clear()
    with pytest.raises(RuntimeError, match="ignore_mismatched_sizes"):
        load_pretrained(AutoModelForSequenceClassification, str(tmp_path), num_labels=3)
    assert any("LOAD REPORT" in r.getMessage() and "MISMATCH" in r.getMessage() for r in hf_records)


def test_a_head_of_another_shape_is_one_info_line(tiny_bert, tmp_path, caplog, hf_records):
    AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=2).save_pretrained(tmp_path)
    hf_records.clear()  # the report of that plain load
    with caplog.at_level(logging.INFO, logger="modeling.hf_compat"):
        model = load_pretrained(AutoModelForSequenceClassification, str(tmp_path), num_labels=3,
                                ignore_mismatched_sizes=True)
    assert model.classifier.weight.shape[0] == 3
    lines = [r for r in caplog.records if r.name == "modeling.hf_compat"]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert "initialised new head weights classifier.bias, classifier.weight" in lines[0].getMessage()
    assert not [r for r in hf_records if "LOAD REPORT" in r.getMessage()]
