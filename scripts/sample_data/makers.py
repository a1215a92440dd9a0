"""How make_sample_data.py makes each sample set: the makers, and the loop that balances and dedups.

A maker is called as ``make(data, rng, cls)`` with its set's ``<set>.yaml`` (words.load) and
the class asked for: a label name, STS-B's similarity level or QA's answerable flag. It
returns an :class:`Example`, its texts filled from the set's templates with slots drawn by
words.py. :data:`MAKERS` lists the sets, in the README's order.
"""
from __future__ import annotations

import random
import re
import string
from functools import partial
from typing import Any, Callable, Mapping, NamedTuple

from configs.datasets import DatasetSpec
from data_utils.declarations import DATASETS
from .words import (SHARED, anli_slots, cap, comqa_company_slots, comqa_event_slots, cq_person_slots,
                     cq_place_slots, fill, load, mnli_slots, news_slots, person, pick, picks, pool_slots,
                     review_slots, rte_slots, snli_slots, wanli_slots, wire_slots)

MAX_TRIES = 500  # draws per example before giving up on finding an unseen text
SQUAD_FIELDS = ("id", "title", "context", "question", "answers")  # a QA row, in SQuAD v2's order
IDX_HUBS = ("nyu-mll/glue", "aps/super_glue")  # their rows end with "idx", counting from 0 in each split

Row = dict[str, Any]


class Example(NamedTuple):
    """What a maker returns for the class it was asked for."""

    texts: tuple[str, ...]  # one per input field of the registry, in its order (spec.inputs)
    label: Any = None  # the label, where it is not the class asked for (STS-B's score)
    extra: Mapping[str, Any] = {}  # hub fields the registry does not hold (dr_id, a QA title and answers)


def _spaced(text: str, split_clitics: bool = True) -> str:
    """GLUE/SST style tokenisation: a space before , . ; : ! ? (not inside 13.1) and 's."""
    text = re.sub(r"\s*([,.;:!?])(?!\d)", r" \1", text)
    if split_clitics:
        text = re.sub(r"(\w)'s\b", r"\1 's", text)
    return re.sub(r"\s+", " ", text).strip()


def _review_template(rng: random.Random, shared: list[str], contrast: Mapping[str, list[str]], label: str) -> str:
    """About a fifth of the time a contrast template, whose surface words point the other way."""
    return pick(rng, contrast[label]) if rng.random() < 0.2 else pick(rng, shared)


def make_short_review(data: Mapping[str, Any], rng: random.Random, label: str, *, sst2: bool) -> Example:
    """An SST-2 phrase (lower-cased, tokenised, a trailing space) or a Rotten Tomatoes snippet."""
    slots = review_slots(rng, label)
    text = fill(_review_template(rng, data["templates"], data["contrast"], label), slots).lower()
    return Example((_spaced(text) + " ",) if sst2 else (_spaced(text, split_clitics=False),))


def make_imdb(data: Mapping[str, Any], rng: random.Random, label: str) -> Example:
    slots = review_slots(rng, label) | picks(rng, data["words"], " ".join(data["words"]))
    slots["score"] = rng.randint(7, 10) if label == "positive" else rng.randint(1, 4)
    parts = [pick(rng, data["openers"]), _review_template(rng, data["middles"], data["contrast"], label)]
    if rng.random() < 0.7:
        parts.append(pick(rng, data["closers"][label]))
    return Example((" ".join(fill(p, slots) for p in parts),))


def make_financial_phrasebank(data: Mapping[str, Any], rng: random.Random, label: str) -> Example:
    words, lo = data["words"], round(rng.uniform(2, 90), 1)
    co, client = rng.sample(words["companies"], 2)
    slots = {"co": co, "client": client, **picks(rng, words, "metric period city"), "lo": lo,
             "hi": round(lo * rng.uniform(1.1, 1.9), 1), "pct": rng.randint(2, 35),
             "jobs": rng.randrange(20, 900, 10), "num": rng.randint(5, 120), "day": rng.randint(1, 28),
             "month": pick(rng, SHARED["months"])}
    return Example((_spaced(fill(pick(rng, data["templates"][label]), slots)),))


def make_mrpc(data: Mapping[str, Any], rng: random.Random, label: str) -> Example:
    event = pick(rng, data["events"])
    form1, form2 = rng.sample(event["forms"], 2)
    slots = news_slots(rng, data["words"])
    other = dict(slots)
    if label == "not_equivalent":
        # A non-paraphrase changes one or two facts of the same event, as MRPC's
        # negatives mostly share the topic and many words.
        for key in rng.sample(event["alter"], rng.choice((1, 2))):
            while other[key] == slots[key]:
                other[key] = news_slots(rng, data["words"])[key]
    return Example((cap(fill(form1, slots)), cap(fill(form2, other))))


def make_qqp(data: Mapping[str, Any], rng: random.Random, label: str) -> Example:
    """Duplicate: two phrasings of one (intent, topic). Otherwise a near miss or a stranger."""
    intents, topics = data["intents"], data["topics"]
    intent = pick(rng, intents)
    topic = pick(rng, topics[intent["topic"]])
    q1, q2 = rng.sample(intent["forms"], 2)
    if label == "duplicate":
        return Example((q1.format(t=topic), q2.format(t=topic)))
    kind = rng.randrange(3)
    if kind == 0:  # same topic, another intent on it
        other = pick(rng, [i for i in intents if i["topic"] == intent["topic"] and i is not intent])
        return Example((q1.format(t=topic), pick(rng, other["forms"]).format(t=topic)))
    if kind == 1:  # same intent, another topic
        other_topic = pick(rng, [t for t in topics[intent["topic"]] if t != topic])
        return Example((q1.format(t=topic), q2.format(t=other_topic)))
    other = pick(rng, [i for i in intents if i["topic"] != intent["topic"]])
    return Example((q1.format(t=topic), pick(rng, other["forms"]).format(t=pick(rng, topics[other["topic"]]))))


def make_medical_questions_pairs(data: Mapping[str, Any], rng: random.Random, label: str) -> Example:
    # The hub set's negatives are written by the same doctor on the same topic,
    # so every pair here shares its condition or drug.
    intent = pick(rng, data["intents"])
    topic = pick(rng, data["topics"][intent["topic"]])
    q1, q2 = rng.sample(intent["forms"], 2)
    if label == "otherwise":
        q2 = pick(rng, pick(rng, [i for i in data["intents"]
                                  if i["topic"] == intent["topic"] and i is not intent])["forms"])
    slots = {"age": rng.randint(19, 78), "relative": pick(rng, data["relatives"])}
    dr_id = rng.randint(1, 11)  # the hub's doctor id

    def with_prefix(question: str) -> str:
        prefix = pick(rng, data["prefixes"]).format_map(slots)
        if prefix.endswith(", "):  # "Doctor, what ..." goes on in lower case
            question = question[:1].lower() + question[1:]
        return prefix + question

    return Example((with_prefix(q1.format(t=topic)), with_prefix(q2.format(t=topic))), extra={"dr_id": dr_id})


def make_ag_news(data: Mapping[str, Any], rng: random.Random, label: str) -> Example:
    """A wire item: "<headline> (<agency>) <agency> - <subject> <action><when><tail>"."""
    words, topic = data["words"], data["by_label"][label]
    headline = pick(rng, words["headline"] if rng.random() < 0.5 else topic["headlines"])
    agency = pick(rng, words["agency"])
    subject = pick(rng, words["subject"] if rng.random() < 0.4 else topic["subjects"])
    story = (f"{subject} {pick(rng, topic['actions'])}"
             f"{pick(rng, words['when'])}{pick(rng, words['tail'])}")
    return Example((f"{headline} ({agency}) {agency} - {cap(fill(story, wire_slots(rng, words)))}",))


def make_yahoo_answers_topics(data: Mapping[str, Any], rng: random.Random, label: str) -> Example:
    """A question title on a topic or task of ``label``, its details ("" for none) and a best answer."""
    topic = data["by_label"][label]
    if rng.random() < 0.5:
        title = pick(rng, data["topic_frames"]).format(topic=pick(rng, topic["topics"]))
    else:
        title = pick(rng, data["task_frames"]).format(task=pick(rng, topic["tasks"]))
    content = ""
    if rng.random() < data["content_share"]:
        frames = data["topical_contents"] if rng.random() < 0.5 else data["contents"]
        content = pick(rng, frames).format(age=rng.randint(13, 60), relative=pick(rng, data["relatives"]),
                                           topic=pick(rng, topic["topics"]))
    return Example((title, content), extra={"best_answer": pick(rng, data["answers"])})


def _sts_sentence(subject: str, verb: str, obj: str, place: str) -> str:
    return cap(" ".join(w for w in (subject, verb.format(o=obj), place) if w)) + "."


def make_stsb(data: Mapping[str, Any], rng: random.Random, level: int) -> Example:
    """A pair at one of six similarity levels; its score is the level, jittered by up to 0.4."""
    subjects, actions, places = data["subjects"], data["actions"], data["places"]
    subj_i, subj_j = rng.sample(range(len(subjects)), 2)
    act_i, act_j = rng.sample(range(len(actions)), 2)
    place_i, place_j = rng.sample(range(len(places)), 2)
    obj, obj2 = rng.sample(actions[act_i]["objects"], 2)
    subject, subject_syn = subjects[subj_i]
    place, place_syn = places[place_i]
    place = place if rng.random() < 0.7 else ""
    place_syn = place_syn if place else ""
    v1, v2 = rng.sample(actions[act_i]["verbs"], 2)
    s1 = _sts_sentence(subject, v1, obj, place)
    verb2, objects2 = actions[act_j]["verbs"][0], actions[act_j]["objects"]
    if level == 5:    # same meaning, other words
        s2 = _sts_sentence(subject_syn, v2, obj, place_syn)
    elif level == 4:  # same event, the place dropped or added
        s2 = _sts_sentence(subject_syn, v2, obj, "" if place else places[place_j][0])
    elif level == 3:  # same subject and action, another object
        s2 = _sts_sentence(subject, v2, obj2, place_syn)
    elif level == 2:  # same subject, another action
        s2 = _sts_sentence(subject, verb2, pick(rng, objects2), place)
    elif level == 1:  # same setting only
        s2 = _sts_sentence(subjects[subj_j][0], verb2, pick(rng, objects2), place or places[place_i][0])
    else:             # unrelated
        s2 = _sts_sentence(subjects[subj_j][0], verb2, pick(rng, objects2), pick(rng, (places[place_j][0], "")))
    if rng.random() < 0.5:
        s1, s2 = s2, s1
    score = min(5.0, max(0.0, level + rng.choice((-0.4, -0.2, 0.0, 0.0, 0.2, 0.4))))
    return Example((s1, s2), label=round(score, 1))


def make_nli(slots_of: Callable[[random.Random, Mapping], dict[str, Any]], data: Mapping[str, Any],
             rng: random.Random, label: str) -> Example:
    """(premise, hypothesis): a scenario's premise and one of its hypotheses for ``label``."""
    if label == "not_entailment":  # RTE's two-way labels: neutral or contradiction
        label = pick(rng, ("neutral", "contradiction"))
    scenario = pick(rng, data["scenarios"])
    slots = slots_of(rng, data["words"])
    premise = fill(pick(rng, scenario["premises"]), slots)
    hypothesis = cap(fill(pick(rng, scenario[label]), slots))
    # Telephone-genre premises (MNLI) stay lower-case and unpunctuated, as MNLI's transcripts are.
    return Example((premise if premise.startswith(("yeah", "i ")) else cap(premise), hypothesis))


def make_cb(data: Mapping[str, Any], rng: random.Random, label: str) -> Example:
    """(premise, hypothesis): the hypothesis is the clause the premise embeds."""
    p, other = person(rng), person(rng)
    clause = pick(rng, data["clauses"]).format(other=other["name"])
    frame = pick(rng, data["frames"][label])
    context = pick(rng, data["contexts"])
    sentence = cap(fill(frame, {"name": p["first"], "pron": p["pron"], "clause": clause}))
    return Example((" ".join(s for s in (context, sentence) if s), clause))


def _fill_with_spans(template: str, slots: Mapping[str, Any]) -> tuple[str, dict[str, int]]:
    """Fill ``template`` and return where each slot's value starts in the filled text."""
    text, starts = "", {}
    for literal, field, _, _ in string.Formatter().parse(template):
        text += literal
        if field is not None:
            starts.setdefault(field, len(text))
            text += str(slots[field])
    return text, starts


def make_qa(slots_of: Mapping[str, Callable[[random.Random, Mapping], dict[str, Any]]], data: Mapping[str, Any],
            rng: random.Random, answerable: bool) -> Example:
    """(question, context), with a title and SQuAD v2 answers. The context is a topic's lead fact and
    1-3 of its other facts; an unanswerable question asks about a fact left out of it (SQuAD v2's
    plausible-but-unanswerable questions). ``slots_of`` maps each topic of ``data`` to its slots."""
    first, second = data["topics"]
    name = first if rng.random() < data["first_share"] else second
    topic, slots = data["topics"][name], slots_of[name](rng, data["words"])
    facts = topic["facts"]
    chosen = rng.sample(facts, rng.randint(1, min(3, len(facts) - 1)))
    missing = [f for f in facts if f not in chosen]
    context, spans = "", {}
    for fact in [topic["lead"], *chosen]:
        if context:
            context += " "
        text, starts = _fill_with_spans(fact["sentence"], slots)
        for key, start in starts.items():
            spans.setdefault(key, len(context) + start)
        context += text
    fact = pick(rng, [topic["lead"], *chosen] if answerable else missing)
    key = pick(rng, sorted(fact["questions"]))
    question = pick(rng, fact["questions"][key]).format_map(slots)
    answers = ({"text": [str(slots[key])], "answer_start": [spans[key]]} if answerable
               else {"text": [], "answer_start": []})
    return Example((question, context), extra={"title": slots[topic["title"]], "answers": answers})


MAKERS: dict[str, Callable[[Mapping[str, Any], random.Random, Any], Example]] = {  # in the README's order
    "sst2": partial(make_short_review, sst2=True),
    "rotten_tomatoes": partial(make_short_review, sst2=False),
    "imdb": make_imdb,
    "financial_phrasebank": make_financial_phrasebank,
    "ag_news": make_ag_news,
    "yahoo_answers_topics": make_yahoo_answers_topics,
    "mrpc": make_mrpc,
    "qqp": make_qqp,
    "medical_questions_pairs": make_medical_questions_pairs,
    "stsb": make_stsb,
    "rte": partial(make_nli, rte_slots),
    "snli": partial(make_nli, snli_slots),
    "mnli": partial(make_nli, mnli_slots),
    "cb": make_cb,
    "anli": partial(make_nli, anli_slots),
    "wanli": partial(make_nli, wanli_slots),
    "cq": partial(make_qa, {"person": cq_person_slots, "place": cq_place_slots}),
    "comqa": partial(make_qa, {"company": comqa_company_slots, "event": comqa_event_slots}),
}


def split_sizes(spec: DatasetSpec, data: Mapping[str, Any]) -> dict[str, int]:
    """The registry's training, dev and LLM evaluation splits (those it names), then the set's
    ``more_splits`` (hub splits no stage reads) -> examples in each."""
    named = (spec.train_split, spec.dev_split, spec.llm_eval_split, *data.get("more_splits", ()))
    names = dict.fromkeys(s for s in named if s)
    train, other = data["sizes"]
    return {name: train if name == spec.train_split else other for name in names}


def row_fields(spec: DatasetSpec, data: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields of a row, in the hub's order (a set's ``fields`` where the hub has more than the registry reads)."""
    if spec.task_class == "qa":
        return SQUAD_FIELDS
    if "fields" in data:
        return tuple(data["fields"])
    ids = (data["id_field"],) if "id_field" in data else ()
    return (*ids, *spec.inputs, spec.label_field, *(("idx",) if spec.hub_id in IDX_HUBS else ()))


def generate_set(name: str, seed: int) -> dict[str, list[Row]]:
    """All splits of one sample set, its classes balanced in every split, no input texts repeated."""
    spec, data, make = DATASETS[name], load(name), MAKERS[name]
    classes = data.get("classes") or spec.labels
    fields = row_fields(spec, data)
    rng = random.Random(f"{seed}/{name}")
    seen: set[tuple[str, ...]] = set()
    splits: dict[str, list[Row]] = {}
    count = 0  # examples made so far, over all splits
    for split, size in split_sizes(spec, data).items():
        wanted = [classes[i % len(classes)] for i in range(size)]
        rng.shuffle(wanted)
        rows = []
        for cls in wanted:
            for _ in range(MAX_TRIES):
                example = make(data, rng, cls)
                # An optional pair's first text is the example (a question, whatever its details).
                key = example.texts[:1] if spec.optional_pair else example.texts
                if key not in seen:
                    break
            else:
                raise RuntimeError(f"{name}: templates too few for {size} unique examples")
            seen.add(key)
            row = {**example.extra, **dict(zip(spec.inputs, example.texts, strict=True))}
            if spec.task_class == "cr":  # as the hub stores it: the index of the label's name in the registry, or the name
                row[spec.label_field] = (example.label if example.label is not None
                                         else cls if data.get("label_as_name") else spec.labels.index(cls))
            if data.get("id_kind") == "hex":
                row[data["id_field"]] = f"{rng.getrandbits(96):024x}"
            elif data.get("id_kind") == "index":
                row[data["id_field"]] = count
            if "idx" in fields:
                row["idx"] = len(rows)
            count += 1
            rows.append({f: row[f] for f in fields})
        splits[split] = rows
    return splits


def _pool_row(data: Mapping[str, Any], rng: random.Random, source: str) -> Row:
    """One unlabelled line of ``source``: {"text", "source"}, with "text_pair" for a pair source."""
    slots = pool_slots(rng, data["words"])
    if source in data["texts"]:
        return {"text": cap(fill(pick(rng, data["texts"][source]), slots)), "source": source}
    row = pick(rng, data["pairs"][source])
    pair = row["pair"] if isinstance(row["pair"], str) else pick(rng, row["pair"])
    return {"text": cap(fill(row["text"], slots)), "text_pair": cap(fill(pair, slots)), "source": source}


def generate_pool(seed: int, exclude: set[str]) -> list[Row]:
    """``per_source`` rows for each source of unsup_pool.yaml, shuffled; no text equal to a labelled one."""
    data = load("unsup_pool")
    rng = random.Random(f"{seed}/unsup_pool")
    seen = set(exclude)
    rows = []
    for source in data["sources"]:
        for _ in range(data["per_source"]):
            for _ in range(MAX_TRIES):
                row = _pool_row(data, rng, source)
                key = row["text"] + "\n" + row.get("text_pair", "")
                if row["text"] not in exclude and key not in seen:
                    break
            else:
                raise RuntimeError(f"unsup_pool: templates too few for source {source}")
            seen.add(key)
            rows.append(row)
    rng.shuffle(rows)
    return rows
