"""Tiny models and tokenizers for offline tests, built from configs in a few seconds.

Each `build_tiny_*(path)` trains a small tokenizer with the `tokenizers` library on
the built-in English corpus below, wraps it in the matching transformers 5 tokenizer
class, initialises a tiny model (hidden size 32, 2 layers) after
`torch.manual_seed(0)`, and `save_pretrained`s both into `path`. The code under test
then loads the folder by path, exactly as it would load a hub id.

What each folder imitates, with the real quirks it keeps on purpose:
- bert: uncased WordPiece with [PAD] [UNK] [CLS] [SEP] [MASK]; BertForMaskedLM, so
  no pooler weights are saved and a classifier initialises its pooler at load.
- t5: Unigram (sentencepiece-like) with <pad>=0 </s>=1 <unk>=2 and no <extra_id_*>
  sentinels; T5ForConditionalGeneration.
- roberta: byte-level BPE with <s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=4 (pairs as
  <s> A </s></s> B </s>); RobertaForMaskedLM, so no pooler or classifier is saved.
- gpt2: byte-level BPE with <|endoftext|> as bos/eos/unk and NO pad token, like the
  real gpt2: callers must set one (a batch of 2+ fails without); GPT2LMHeadModel.
- llama: Llama BPE (Metaspace + byte fallback) with <s> </s> <unk>, pad = <unk>, the
  Llama-2 chat template (system role supported); LlamaForCausalLM.
- mixtral: the same tokenizer with the Mixtral-Instruct template (a system message
  raises); MixtralForCausalLM with 4 experts, 2 per token.
- qwen3: Qwen2-style byte-level BPE (Qwen's pre-tokenizer regex) with no BOS,
  <|endoftext|> as eos and pad (pad == eos, as Qwen3 base models ship it), no unk,
  <|im_start|>/<|im_end|> and a ChatML template; Qwen3ForCausalLM with tied input and
  output embeddings and no pad_token_id in its config. The transformers 5
  Qwen3ForQuestionAnswering holds its backbone as `transformer`, the causal LM as `model`.

All tokenizers are fast (offsets work) and have model_max_length 512. The Llama and
Mixtral tokenizers pad on the left, as many decoder checkpoints do. AutoTokenizer
returns LlamaTokenizer for llama and the generic TokenizersBackend for mixtral
(transformers maps model type "mixtral" there, as it does for the real Mixtral); both
behave the same.

The LLM tokenizers (llama, mixtral, qwen3) guarantee that every word of VERBALIZER_WORDS
is one token, both from `encode(w, add_special_tokens=False)` and when generated right
after a chat prompt (llama, mixtral: the Metaspace pre-tokenizer makes both the same
"▁w" piece; qwen3: ChatML's generation prompt ends in a newline, after which the word is
written without a leading space, as it is alone).
Blank tokens exist as in Llama-2: "▁" (a single space; note that `decode([id])` of
it alone returns "" because the Llama decoder strips one leading space, while
decoding it after another token gives " ") and the byte-fallback "<0x0A>" (decodes
to a newline).
"""
from __future__ import annotations

import json
import logging
import math
from collections import Counter
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    GPT2Tokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaTokenizer,
    MixtralConfig,
    MixtralForCausalLM,
    PretrainedConfig,
    PreTrainedModel,
    Qwen2Tokenizer,
    Qwen3Config,
    Qwen3ForCausalLM,
    RobertaConfig,
    RobertaForMaskedLM,
    RobertaTokenizer,
    T5Config,
    T5ForConditionalGeneration,
    T5Tokenizer,
    TokenizersBackend,
)

logger = logging.getLogger(__name__)

MODEL_MAX_LENGTH = 512

# Every verbalizer of the SA and NLI prompts (configs/prompts/).
VERBALIZER_WORDS: tuple[str, ...] = (
    "yes", "Yes", "no", "No", "good", "Good", "bad", "Bad", "positive", "negative",
    "maybe", "Maybe", "correct", "uncertain", "incorrect", "true", "True", "false",
    "False", "always", "Always", "sometimes", "Sometimes", "never", "Never",
)

# ---------------------------------------------------------------------------
# The corpus: hand-written sentences in the genres the tests use (movie reviews,
# NLI pairs, QA passages, the project's prompt instructions), plus a grid of
# generated sentences so that common words appear often enough to be merged.
# ---------------------------------------------------------------------------

_REVIEWS = (
    "The movie was good and I would watch it again.",
    "A bad film with a weak plot and wooden acting.",
    "I loved every minute of this wonderful story.",
    "The acting was terrible and the script was even worse.",
    "It is a charming, funny and moving picture.",
    "Boring, slow and far too long for its own good.",
    "The director made a brave and beautiful film.",
    "I left the cinema after half an hour.",
    "The music and the photography are simply stunning.",
    "Nothing in this movie makes any sense at all.",
    "A warm comedy that the whole family will enjoy.",
    "The characters are flat and the dialogue is dull.",
    "One of the best films I have seen this year.",
    "What a waste of a great cast and a big budget.",
    "The ending surprised me and made me cry.",
    "The jokes fall flat and the story drags on.",
    "This thriller keeps you on the edge of your seat.",
    "I cannot recommend this mess to anyone.",
    "Her performance is the heart of the movie.",
    "The sequel is louder, longer and much less fun.",
    "A clever script, sharp editing and a great score.",
    "The special effects look cheap and the story is silly.",
    "Audiences will laugh, cry and want to watch it again.",
    "It tries hard but never finds its voice.",
    "An honest, gentle and deeply human drama.",
    "The plot is predictable and the pacing is awful.",
    "Every scene is full of life and colour.",
    "I fell asleep twice during the second act.",
    "The young actors give natural and touching performances.",
    "A confusing film that goes nowhere slowly.",
    "Does the movie review below make someone want to watch it?",
    "How does the viewer feel about the movie?",
    "Did the reviewer enjoy the movie?",
    "Does it seem like the reviewer who wrote this review liked the movie?",
    "Is the movie review below positive?",
    "Did the reviewer find this movie good or bad?",
    "Is this review positive or negative?",
    "This is definitely not a positive or negative review.",
)

_NLI = (
    "A man is playing a guitar on the street.",
    "A person is making music outside.",
    "The woman is sleeping in her bed.",
    "Two children are running across a green field.",
    "The kids are sitting quietly in a classroom.",
    "The company reported higher profits this quarter.",
    "The company lost money this quarter.",
    "The train to the city leaves every hour.",
    "There is no train service to the city.",
    "A dog is catching a red ball in the park.",
    "An animal is playing outdoors.",
    "The chef cooked dinner for twenty guests.",
    "Nobody ate dinner at the restaurant.",
    "The old bridge was closed for repairs.",
    "Cars can still cross the old bridge.",
    "She has lived in Paris for ten years.",
    "She has never been to France.",
    "The students passed the final exam.",
    "Some students failed the final exam.",
    "It rained all day in the mountains.",
    "Given that the premise is true, does it follow that the hypothesis is true?",
    "Using only the above description and what you know about the world, is it definitely correct, incorrect, or uncertain?",
    "Question: is the hypothesis true, false, or maybe?",
    "Take the following as truth, then is the following statement true, false, or maybe?",
    "Does this imply that the hypothesis holds? Yes, no, or maybe?",
    "Should we assume that it is true? Yes, no, or maybe?",
    "Based on the previous passage, is it true? Yes, no, or maybe?",
    "Are we justified in saying that? yes, no, or maybe?",
    "Suppose it's true that the premise holds. Then, is it always, sometimes, or never true?",
    "Is it guaranteed true? yes, no, or maybe?",
)

_QA = (
    "The Amazon is the largest rainforest in the world.",
    "Which river flows through the largest rainforest?",
    "Marie Curie won the Nobel Prize in physics in 1903.",
    "Who won the Nobel Prize in physics in 1903?",
    "The Eiffel Tower was completed in 1889 in Paris.",
    "When was the Eiffel Tower completed?",
    "Water boils at 100 degrees at sea level.",
    "At what temperature does water boil?",
    "The library opens at nine and closes at six.",
    "What time does the library close?",
    "Mount Everest is the highest mountain on Earth.",
    "What is the highest mountain on Earth?",
    "The first computer programs were written by Ada Lovelace.",
    "Who wrote the first computer programs?",
    "The city council approved the new park in March.",
    "In which month was the new park approved?",
    "Bees collect nectar from flowers to make honey.",
    "What do bees make from nectar?",
    "The museum has more than 3000 paintings.",
    "How many paintings does the museum have?",
)

_INSTRUCTIONS = (
    "You are a helpful assistant.",
    "Write your answer (yes, no) in lower case without any explanation.",
    "Write your answer (good, bad, positive, negative) in lower case without any explanation.",
    "Write your answer (true, false, maybe) in lower case without any explanation.",
    "Write your answer (correct, uncertain, incorrect) in lower case without any explanation.",
    "Write your answer (always, sometimes, never) in lower case without any explanation.",
    "Reason step by step before answering.",
    "Write your answer in the following format: [REASONING] Therefore, the answer is [yes, no, maybe]",
    "According to the provided reasoning, write your answer in lower case without any explanation.",
    "<<SYS>> You are a helpful assistant. <</SYS>> [INST] Is this review positive? [/INST] yes",
    "Rate it from 0 to 9: 0, 1, 2, 3, 4, 5, 6, 7, 8 or 9!",
    "Wow! 50% off; \"great\" & cheap - really? #1 @home *new* ~ ok_done + = / | `x` {y}",
)

# Verbalizers in use, lower and upper case, so that each becomes one merged piece.
_ANSWERS = (
    "Yes, the answer is yes.", "No, the answer is no.", "Good. It was good.",
    "Bad. It was bad.", "The review is positive.", "The review is negative.",
    "Maybe, the answer is maybe.", "The statement is correct.", "The statement is incorrect.",
    "The statement is uncertain.", "True, it is true.", "False, it is false.",
    "Always, it is always true.", "Sometimes, it is sometimes true.", "Never, it is never true.",
)

_SUBJECTS = (
    "The critic", "My friend", "The audience", "A young girl", "The old teacher",
    "Our neighbour", "The doctor", "Every student", "The small team", "A tired driver",
    "The new manager", "His sister",
)
_PREDICATES = (
    "really liked the ending of the film.", "thought the story was too long.",
    "walked to the station in the morning.", "read the book before the movie came out.",
    "bought fresh bread at the market.", "wrote a short letter to the editor.",
    "asked a difficult question about the plot.", "watched the game with great interest.",
    "found the answer in the second paragraph.", "did not believe the news.",
    "played the piano after dinner.", "agreed that the result was surprising.",
    "said the weather would be good tomorrow.", "felt bad about the missed meeting.",
    "was sure the claim was true.", "knew the report was false.",
    "is always early for class.", "sometimes forgets the keys.", "has never seen the sea.",
    "might come to the party, maybe.",
)


def corpus() -> list[str]:
    """The training corpus: ~115 hand-written lines + a 12 x 20 subject-predicate grid."""
    grid = [f"{s} {p}" for s in _SUBJECTS for p in _PREDICATES]
    return [*_REVIEWS, *_NLI, *_QA, *_INSTRUCTIONS, *_ANSWERS, *grid]


# ---------------------------------------------------------------------------
# Chat templates (jinja), written for these tokenizers in the formats of the real
# models. transformers' `raise_exception` raises jinja2.exceptions.TemplateError.
# ---------------------------------------------------------------------------

# Llama-2 chat: <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s>
LLAMA_CHAT_TEMPLATE = (
    "{% if messages and messages[0]['role'] == 'system' %}"
    "{% set system = messages[0]['content'] %}{% set turns = messages[1:] %}"
    "{% else %}{% set system = none %}{% set turns = messages %}{% endif %}"
    "{% for message in turns %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'user' %}"
    "{% if loop.first and system is not none %}"
    "{% set content = '<<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% else %}{{ ' ' + message['content'].strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)

# Mixtral-Instruct: <s>[INST] {user} [/INST]{assistant}</s>; no system role.
MIXTRAL_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}"
    "{{ raise_exception('System role not supported: only user and assistant roles are.') }}"
    "{% endif %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% else %}{{ message['content'] + eos_token }}{% endif %}"
    "{% endfor %}"
)


# ChatML (Qwen): <|im_start|>{role}\n{content}<|im_end|>\n ... <|im_start|>assistant\n
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Qwen2's pre-tokenizer split (transformers' Qwen2Tokenizer): contractions, letter runs with
# one leading non-letter, single digits, punctuation runs, newlines, spaces.
QWEN_SPLIT = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"""
    r"""|\s+(?!\S)|\s+"""
)


# ---------------------------------------------------------------------------
# Tokenizers
# ---------------------------------------------------------------------------


def _train_bpe(
    vocab_size: int,
    pre_tokenizer: pre_tokenizers.PreTokenizer,
    special_tokens: list[str],
    lines: list[str],
    normalizer: normalizers.Normalizer | None = None,
    initial_alphabet: list[str] | None = None,
    byte_fallback: bool = False,
) -> tuple[Tokenizer, dict[str, int], list[tuple[str, str]]]:
    """Train a BPE tokenizer on `lines`; return it with its vocab and merges.

    Only BPE is trained directly: it is deterministic (ties between equally frequent
    pairs are broken by symbol id, and ids follow the sorted alphabet), whereas the
    WordPiece and Unigram trainers of `tokenizers` give a different vocabulary in
    every process (hash-map order, parallel float sums). WordPiece and Unigram
    vocabularies are therefore derived from a BPE vocabulary below.
    """
    unk = special_tokens[0] if byte_fallback else None
    tok = Tokenizer(models.BPE(unk_token=unk, byte_fallback=byte_fallback, fuse_unk=byte_fallback))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=initial_alphabet or [],
        show_progress=False,
    )
    tok.train_from_iterator(lines, trainer)
    model = json.loads(tok.to_str())["model"]
    return tok, model["vocab"], [tuple(pair) for pair in model["merges"]]


def _pieces_in_id_order(vocab: dict[str, int], skip: list[str]) -> list[str]:
    return [piece for piece, _ in sorted(vocab.items(), key=lambda item: item[1]) if piece not in skip]


def train_bert_tokenizer() -> BertTokenizer:
    """Uncased WordPiece: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, then pieces, then ##pieces.

    The pieces are those of a BPE trained on the lowercased, BERT-pre-tokenized
    corpus; each is added both as a word start and as a "##" continuation, so
    greedy longest-match WordPiece can always segment a word made of known letters.
    """
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    _, vocab, _ = _train_bpe(
        500,
        pre_tokenizers.BertPreTokenizer(),
        specials,
        corpus(),
        normalizer=normalizers.BertNormalizer(lowercase=True),
    )
    pieces = _pieces_in_id_order(vocab, specials)
    tokens = specials + pieces + ["##" + piece for piece in pieces]
    return BertTokenizer(
        vocab={token: i for i, token in enumerate(tokens)}, do_lower_case=True, model_max_length=MODEL_MAX_LENGTH
    )


def train_t5_tokenizer() -> T5Tokenizer:
    """Sentencepiece-like Unigram: <pad>=0 </s>=1 <unk>=2, then "▁"-marked pieces; no sentinels.

    Pieces come from a BPE trained with T5's own pre-tokenization (punctuation kept
    apart, as sentencepiece keeps scripts apart); each piece p is scored with its
    add-one smoothed log frequency in the BPE segmentation of the corpus,
        score(p) = log((count(p) + 1) / (N + V)),  N = pieces in the corpus, V = vocab size,
    which is the unigram model one EM step from the BPE segmentation.
    """
    specials = ["<pad>", "</s>", "<unk>"]
    pre = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Metaspace(prepend_scheme="always"),
            pre_tokenizers.Punctuation(behavior="isolated"),
        ]
    )
    bpe, vocab, _ = _train_bpe(600, pre, specials, corpus())
    pieces = _pieces_in_id_order(vocab, specials)
    counts = Counter(piece for line in corpus() for piece in bpe.encode(line).tokens)
    total = sum(counts.values()) + len(pieces)
    scored = [(piece, math.log((counts[piece] + 1) / total)) for piece in pieces]
    vocab_scores = [(token, 0.0) for token in specials] + scored
    return T5Tokenizer(vocab=vocab_scores, extra_ids=0, model_max_length=MODEL_MAX_LENGTH)


def train_gpt2_tokenizer() -> GPT2Tokenizer:
    """Byte-level BPE, vocab 1000, <|endoftext|> (id 0) as bos/eos/unk and no pad token."""
    _, vocab, merges = _train_bpe(
        1000,
        pre_tokenizers.ByteLevel(add_prefix_space=False),
        ["<|endoftext|>"],
        corpus(),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    return GPT2Tokenizer(vocab=vocab, merges=merges, model_max_length=MODEL_MAX_LENGTH)


def train_roberta_tokenizer() -> RobertaTokenizer:
    """RoBERTa's byte-level BPE, vocab 1000: <s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=4, no prefix space."""
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    _, vocab, merges = _train_bpe(
        1000,
        pre_tokenizers.ByteLevel(add_prefix_space=False),
        specials,
        corpus(),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    return RobertaTokenizer(vocab=vocab, merges=merges, model_max_length=MODEL_MAX_LENGTH)


def train_qwen3_tokenizer() -> Qwen2Tokenizer:
    """Qwen2-style byte-level BPE, vocab 1000: <|endoftext|>=0 (eos and pad) <|im_start|>=1 <|im_end|>=2.

    No BOS and no unk, as Qwen's. The verbalizers are also trained as lines of their own,
    so that each is one piece without the leading-space marker "Ġ", as ChatML's answer
    (after a newline) writes it. Raises RuntimeError if a verbalizer is not one token there.
    """
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    pre = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    lines = corpus() + list(VERBALIZER_WORDS) * 4
    _, vocab, merges = _train_bpe(1000, pre, specials, lines, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=["<|im_start|>", "<|im_end|>"],
        model_max_length=MODEL_MAX_LENGTH,
        chat_template=CHATML_TEMPLATE,
    )
    not_single = [w for w in VERBALIZER_WORDS if len(tokenizer.encode(w, add_special_tokens=False)) != 1]
    if not_single:
        raise RuntimeError(f"tiny Qwen3 tokenizer splits verbalizers {not_single}: add them to the corpus")
    return tokenizer


def train_llm_tokenizer(chat_template: str) -> LlamaTokenizer:
    """Llama-2-style BPE, vocab 1000: <unk>=0 <s>=1 </s>=2, byte tokens <0x00>..<0xFF> = 3..258.

    Trained on words split at spaces and punctuation (sentencepiece never merges
    letters with punctuation), then wrapped in LlamaTokenizer, which marks spaces
    with "▁" and falls back to byte tokens (so "\n" is "<0x0A>"). The pad token is
    <unk>, the usual choice for Llama; padding is on the left (for generation).
    Raises RuntimeError if a verbalizer is not a single token.
    """
    specials = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    pre = pre_tokenizers.Sequence(
        [pre_tokenizers.Metaspace(prepend_scheme="always"), pre_tokenizers.Punctuation(behavior="isolated")]
    )
    # Repeating the answer lines makes the verbalizers' pairs frequent, so each one merges.
    _, vocab, merges = _train_bpe(1000, pre, specials, corpus() + list(_ANSWERS) * 4, byte_fallback=True)
    tokenizer = LlamaTokenizer(
        vocab=vocab,
        merges=merges,
        add_bos_token=True,
        pad_token="<unk>",
        model_max_length=MODEL_MAX_LENGTH,
        padding_side="left",
        chat_template=chat_template,
    )
    not_single = [w for w in VERBALIZER_WORDS if len(tokenizer.encode(w, add_special_tokens=False)) != 1]
    if not_single:
        raise RuntimeError(f"tiny LLM tokenizer splits verbalizers {not_single}: add them to the corpus")
    return tokenizer


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


def _save(
    model_cls: type[PreTrainedModel], config: PretrainedConfig, tokenizer: TokenizersBackend, path: str | Path
) -> Path:
    """Seed, initialise `model_cls(config)` and save it with `tokenizer` into `path`."""
    path = Path(path)
    torch.manual_seed(0)  # identical weights on every build
    model = model_cls(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    logger.info("built tiny %s in %s", config.model_type, path)
    return path


# BERT and RoBERTa sizes: hidden 32, 2 layers, 2 heads.
_ENCODER_SIZES = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def build_tiny_bert(path: str | Path) -> Path:
    """Tiny uncased BERT (hidden 32, 2 layers, 2 heads) saved as BertForMaskedLM."""
    tokenizer = train_bert_tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer),
        **_ENCODER_SIZES,
        max_position_embeddings=MODEL_MAX_LENGTH,
        pad_token_id=tokenizer.pad_token_id,
    )
    return _save(BertForMaskedLM, config, tokenizer, path)


def build_tiny_t5(path: str | Path) -> Path:
    """Tiny T5 (d_model 32, 2+2 layers, 2 heads of 16) saved as T5ForConditionalGeneration."""
    tokenizer = train_t5_tokenizer()
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    return _save(T5ForConditionalGeneration, config, tokenizer, path)


def build_tiny_roberta(path: str | Path) -> Path:
    """Tiny RoBERTa (hidden 32, 2 layers, 2 heads) saved as RobertaForMaskedLM (no pooler, no classifier)."""
    tokenizer = train_roberta_tokenizer()
    config = RobertaConfig(
        vocab_size=len(tokenizer),
        **_ENCODER_SIZES,
        # Positions start after the pad id, as in RoBERTa: 512 tokens need 512 + 2 rows.
        max_position_embeddings=MODEL_MAX_LENGTH + 2,
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return _save(RobertaForMaskedLM, config, tokenizer, path)


def build_tiny_gpt2(path: str | Path) -> Path:
    """Tiny GPT-2 (n_embd 32, 2 layers, 2 heads) saved as GPT2LMHeadModel; no pad token."""
    tokenizer = train_gpt2_tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=MODEL_MAX_LENGTH,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return _save(GPT2LMHeadModel, config, tokenizer, path)


def _llm_config_kwargs(tokenizer: TokenizersBackend) -> dict:
    """Shared Llama/Mixtral/Qwen3 sizes: hidden 32, 2 layers, 4 query heads sharing 2 key/value heads."""
    return dict(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=MODEL_MAX_LENGTH,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def build_tiny_llama(path: str | Path) -> Path:
    """Tiny Llama-2-chat lookalike saved as LlamaForCausalLM, with the Llama-2 chat template."""
    tokenizer = train_llm_tokenizer(LLAMA_CHAT_TEMPLATE)
    config = LlamaConfig(**_llm_config_kwargs(tokenizer))
    return _save(LlamaForCausalLM, config, tokenizer, path)


def build_tiny_mixtral(path: str | Path) -> Path:
    """Tiny Mixtral-Instruct lookalike (4 experts, 2 per token) saved as MixtralForCausalLM."""
    tokenizer = train_llm_tokenizer(MIXTRAL_CHAT_TEMPLATE)
    config = MixtralConfig(
        **_llm_config_kwargs(tokenizer), num_local_experts=4, num_experts_per_tok=2, sliding_window=None
    )
    return _save(MixtralForCausalLM, config, tokenizer, path)


def build_tiny_qwen3(path: str | Path) -> Path:
    """Tiny Qwen3 (hidden 32, 2 layers, 4 query heads sharing 2 key/value heads of 8) saved as
    Qwen3ForCausalLM, with tied embeddings and no pad_token_id in its config, as Qwen3 ships."""
    tokenizer = train_qwen3_tokenizer()
    # Qwen's tokenizer has no BOS (bos_token_id None) and its config names no pad id.
    sizes = {**_llm_config_kwargs(tokenizer), "pad_token_id": None}
    config = Qwen3Config(**sizes, head_dim=8, tie_word_embeddings=True)
    return _save(Qwen3ForCausalLM, config, tokenizer, path)


BUILDERS = {
    "bert": build_tiny_bert,
    "roberta": build_tiny_roberta,
    "t5": build_tiny_t5,
    "gpt2": build_tiny_gpt2,
    "llama": build_tiny_llama,
    "mixtral": build_tiny_mixtral,
    "qwen3": build_tiny_qwen3,
}
