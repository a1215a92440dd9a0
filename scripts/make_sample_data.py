"""Write the project's small sample datasets under data/samples/ (deterministic, stdlib only).

Real hub datasets cannot be downloaded offline, so each sample set stands in for one
dataset of the registry, configs/datasets.yaml, which says what the set looks like: its
split names (training, dev and LLM evaluation split), its input fields, its label field
and label names in index order, and whether it is a regression or a QA set. This script
holds only what the registry does not: the English text (word lists, templates and the
code that fills them), the size of each split, the hub's id fields, and a line for the
README. Every set is drawn from its own ``random.Random(f"{seed}/{name}")``, so changing
one set never changes the others, and a rerun rewrites identical bytes.

Layout written (the loader reads ``<out_dir>/<name>/<split>.jsonl``)::

    <out_dir>/<name>/<split>.jsonl   one JSON object per line, UTF-8
    <out_dir>/unsup_pool.jsonl       the unlabelled x' pool: {"text", "source"[, "text_pair"]}
    <out_dir>/README.md              what each set is (generated from SAMPLES and the registry)

Usage: ``python scripts/make_sample_data.py [--out_dir DIR] [--seed 42]``.
The committed files are made with the defaults; tests/test_sample_data.py checks that.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import string
import sys
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs.datasets import GENRE_LABELS, DatasetSpec  # noqa: E402
from data_utils.declarations import DATASETS  # noqa: E402

logger = logging.getLogger(__name__)

DEFAULT_OUT_DIR = ROOT / "data" / "samples"
DEFAULT_SEED = 42
MAX_TRIES = 500  # draws per example before giving up on finding an unseen text
POOL_PER_SOURCE = 100

Row = dict[str, Any]


class Example(NamedTuple):
    """What a maker returns for the class it was asked for."""

    texts: tuple[str, ...]  # one per input field of the registry, in its order (spec.inputs)
    label: Any = None  # the label, where it is not the class asked for (STS-B's score)
    extra: Mapping[str, Any] = {}  # hub fields the registry does not hold (dr_id, a QA title and answers)


# --------------------------------------------------------------------------------------
# Small text helpers
# --------------------------------------------------------------------------------------

def _article(word: str) -> str:
    """'an' before a vowel sound we use in the word lists, else 'a'."""
    return "an" if word[:1].lower() in "aeiou" else "a"


_ARTICLE_RE = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])")


def _fill(template: str, slots: Mapping[str, Any]) -> str:
    """Fill a ``str.format`` template and fix 'a' -> 'an' before vowels."""
    return _ARTICLE_RE.sub(r"\1n ", template.format_map(slots))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _pick(rng: random.Random, seq: Sequence[Any]) -> Any:
    return seq[rng.randrange(len(seq))]


def _spaced(text: str, split_clitics: bool = True) -> str:
    """GLUE/SST style tokenisation: a space before , . ; : ! ? (not inside 13.1) and 's."""
    text = re.sub(r"\s*([,.;:!?])(?!\d)", r" \1", text)
    if split_clitics:
        text = re.sub(r"(\w)'s\b", r"\1 's", text)
    return re.sub(r"\s+", " ", text).strip()


def _number(n: int) -> str:
    """12480 -> '12,480'."""
    return f"{n:,}"


def _hex_id(rng: random.Random, width: int = 24) -> str:
    return f"{rng.getrandbits(4 * width):0{width}x}"


# --------------------------------------------------------------------------------------
# Shared word lists (people, companies and towns are fictional, so that no sample states
# a false fact about a real one)
# --------------------------------------------------------------------------------------

FIRST_NAMES = [  # (name, subject pronoun)
    ("Anna", "she"), ("Ben", "he"), ("Clara", "she"), ("David", "he"), ("Elena", "she"), ("Farid", "he"),
    ("Grace", "she"), ("Hugo", "he"), ("Ines", "she"), ("Jonas", "he"), ("Kara", "she"), ("Leo", "he"),
    ("Maya", "she"), ("Nikolai", "he"), ("Olivia", "she"), ("Pablo", "he"), ("Rosa", "she"), ("Samuel", "he"),
    ("Tara", "she"), ("Umar", "he"), ("Vera", "she"), ("Walter", "he"), ("Yuki", "she"), ("Marco", "he"),
    ("Lucia", "she"), ("Henrik", "he"), ("Amara", "she"), ("Tomas", "he"), ("Nadia", "she"), ("Oscar", "he"),
]
LAST_NAMES = ["Adler", "Brooks", "Castillo", "Dunn", "Eriksen", "Fischer", "Garcia", "Holm", "Ivanova", "Jensen",
              "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Rossi", "Sato", "Tanaka", "Varga",
              "Whitfield", "Ybarra", "Zeller", "Hartley", "Mensah", "Quiroga"]
PRONOUNS = {"she": ("she", "her", "her"), "he": ("he", "him", "his")}  # subject, object, possessive
TOWNS = ["Eastholm", "Marrowby", "Kelvarra", "Dunmere", "Ashcombe", "Veldtown", "Lorimar", "Brackenford", "Solvik",
         "Pellham", "Redwater", "Stonebridge", "Halden Cross", "Mirefield", "Corran", "Wexley", "Ambervale",
         "Thornbury", "Lisgard", "Oakhollow"]
CITIES = ["Paris", "Toronto", "Nairobi", "Osaka", "Lisbon", "Denver", "Melbourne", "Cairo", "Oslo", "Seoul",
          "Chicago", "Madrid", "Mumbai", "Dublin", "Helsinki", "Boston", "Lima", "Prague", "Austin", "Manila"]
COUNTRIES = [  # (country, nationality)
    ("Norway", "Norwegian"), ("Canada", "Canadian"), ("Portugal", "Portuguese"), ("Kenya", "Kenyan"),
    ("Chile", "Chilean"), ("Poland", "Polish"), ("Japan", "Japanese"), ("Ireland", "Irish"), ("Italy", "Italian"),
    ("Australia", "Australian"), ("Finland", "Finnish"), ("Mexico", "Mexican"),
]
RIVERS = ["the Arden", "the Selka", "the Varro", "the Mistle", "the Brann", "the Tolva", "the Quill", "the Oster",
          "the Lune", "the Dravik"]
REGIONS = ["northern", "southern", "eastern", "western", "central"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
COMPANIES = ["Brightloom", "Nordwave", "Keystone Robotics", "Larkspur Foods", "Tidewell", "Orbitra",
             "Copperleaf Games", "Halcyon Motors", "Quillon Software", "Meridian Optics", "Fernway Bikes",
             "Solace Audio", "Pinecrest Labs", "Vantor Airlines", "Bluehaven Textiles", "Granite Bay Bank"]


def _person(rng: random.Random) -> dict[str, str]:
    """A fictional person: name, first, last and pronoun forms."""
    first, pron = _pick(rng, FIRST_NAMES)
    subj, obj, poss = PRONOUNS[pron]
    return {"name": f"{first} {_pick(rng, LAST_NAMES)}", "first": first, "pron": subj, "obj": obj, "poss": poss}


# --------------------------------------------------------------------------------------
# Sentiment: makers get a label name ("negative", "neutral", "positive")
# --------------------------------------------------------------------------------------

MOVIE_NOUNS = ["film", "movie", "picture", "drama", "comedy", "thriller", "documentary", "sequel", "remake",
               "musical", "western", "romance", "horror film", "animated feature", "biopic", "war epic", "mystery",
               "satire", "road movie", "family film"]
ASPECTS = ["acting", "script", "soundtrack", "cinematography", "pacing", "dialogue", "ending", "cast", "plot",
           "visual effects", "humor", "direction", "editing", "lead performance", "screenplay", "score",
           "production design", "final act", "opening scene", "story"]
POS_ADJ = ["wonderful", "gripping", "charming", "moving", "brilliant", "funny", "heartfelt", "stunning", "clever",
           "delightful", "powerful", "beautiful", "thrilling", "touching", "witty", "engaging", "memorable", "superb",
           "inventive", "warm", "absorbing", "graceful", "sharp", "tender", "exhilarating"]
NEG_ADJ = ["dull", "tedious", "clumsy", "boring", "lifeless", "predictable", "shallow", "bland", "confusing",
           "forgettable", "tiresome", "awkward", "pointless", "sluggish", "hollow", "messy", "stale", "irritating",
           "flat", "overlong", "joyless", "incoherent", "lazy", "grating", "painful"]
POS_VP = ["kept me smiling", "earns every laugh", "stays with you", "holds your attention", "rewards your patience",
          "feels fresh", "lifts the spirit", "never loses its grip", "deserves a big audience", "won me over",
          "finds real emotion", "sparkles with life"]
NEG_VP = ["drags on forever", "wastes its cast", "falls apart", "goes nowhere", "never finds its footing",
          "overstays its welcome", "left me cold", "insults the audience", "squanders a good idea",
          "runs out of steam", "feels like a chore", "misses every mark"]
INTENSIFIERS = ["truly", "remarkably", "genuinely", "thoroughly", "surprisingly", "consistently", "utterly", "quite",
                "mostly", "often"]
POS_VERDICT = ["a must-see", "worth the ticket", "a small triumph", "one to remember", "a real treat",
               "an easy recommendation"]
NEG_VERDICT = ["a chore to sit through", "a waste of two hours", "a misfire", "best avoided", "a real letdown",
               "an easy pass"]
POS_FEELING = ["uplifted", "moved", "delighted", "grateful", "energized", "hopeful"]
NEG_FEELING = ["exhausted", "cheated", "bored", "numb", "annoyed", "restless"]
TITLE_ADJ = ["Last", "Silent", "Broken", "Golden", "Hidden", "Crimson", "Lonely", "Endless", "Frozen", "Distant",
             "Quiet", "Burning"]
TITLE_NOUN = ["Harbor", "Garden", "Signal", "Winter", "Orchard", "Promise", "Voyage", "Lighthouse", "Bridge",
              "Horizon", "Kingdom", "River"]
ROLES = ["detective", "lonely widow", "young teacher", "retired boxer", "ship captain", "small-town mayor",
         "con artist", "village doctor", "struggling painter", "night nurse"]


def _title(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"The {_pick(rng, TITLE_ADJ)} {_pick(rng, TITLE_NOUN)}"
    return f"{_pick(rng, TITLE_NOUN)} of {_pick(rng, TOWNS)}"


def _review_slots(rng: random.Random, positive: bool) -> dict[str, str]:
    """Slots shared by the movie-review sets; 'adj', 'vp' etc. carry the polarity."""
    adj, vp = (POS_ADJ, POS_VP) if positive else (NEG_ADJ, NEG_VP)
    adj1, adj2, adj3 = rng.sample(adj, 3)
    aspect, aspect2 = rng.sample(ASPECTS, 2)
    return {
        "adj": adj1, "adj2": adj2, "adj3": adj3, "vp": _pick(rng, vp),
        "pos_adj": _pick(rng, POS_ADJ), "neg_adj": _pick(rng, NEG_ADJ),
        "pos_vp": _pick(rng, POS_VP), "neg_vp": _pick(rng, NEG_VP),
        "noun": _pick(rng, MOVIE_NOUNS), "aspect": aspect, "aspect2": aspect2,
        "intens": _pick(rng, INTENSIFIERS), "name": _person(rng)["name"],
        "actor": _person(rng)["name"], "title": _title(rng), "role": _pick(rng, ROLES),
        "verdict": _pick(rng, POS_VERDICT if positive else NEG_VERDICT),
        "feeling": _pick(rng, POS_FEELING if positive else NEG_FEELING),
    }


# Templates shared by both polarities (the slots carry the polarity) and, for about a
# fifth of the examples, contrast templates whose surface words point the other way.
SST2_TEMPLATES = [
    "{intens} {adj} {noun}", "a {adj} , {adj2} {noun}", "the {aspect} is {adj} and {adj2}",
    "a {adj} {noun} that {vp}", "{name}'s {adj} {aspect}", "this {noun} {vp}", "{adj} from start to finish",
    "the most {adj} {noun} in years", "{name}'s {noun} is {intens} {adj}", "a {adj} {aspect} and a {adj2} {aspect2}",
    "{intens} {adj} , and it {vp}", "{adj} , {adj2} and {adj3}", "the {aspect} {vp}",
    "a {intens} {adj} piece of filmmaking",
]
SST2_CONTRAST = {
    "positive": ["never {neg_adj} , always {adj}", "not a {neg_adj} moment in it",
                 "the {aspect} is a bit {neg_adj} , but the {noun} {vp}", "hardly {neg_adj} at all"],
    "negative": ["far from {pos_adj}", "not nearly as {pos_adj} as it wants to be",
                 "a {pos_adj} idea buried in a {adj} {noun}", "even the {pos_adj} {aspect} {vp}"],
}
RT_TEMPLATES = [
    "{name}'s {noun} is a {adj} , {adj2} piece of work that {vp} .",
    "the {aspect} is {intens} {adj} , and the {aspect2} {vp} .",
    "{actor} gives a {adj} performance in a {noun} that {vp} .",
    "with its {adj} {aspect} and {adj2} {aspect2} , {title} is {verdict} .",
    "it's a {adj} , {adj2} {noun} , and it {vp} .",
    "by the time the {aspect} arrives , you'll feel {feeling} .",
    "{verdict} : a {adj} {noun} from {name} .",
    "{title} is {intens} {adj} ; the {aspect} alone {vp} .",
    "for a {noun} about a {role} , this is {adj} and {adj2} .",
    "{name} directs with a {adj} touch , and the {aspect} {vp} .",
]
RT_CONTRAST = {
    "positive": ["the {aspect} is a little {neg_adj} , but the {noun} {vp} and the {aspect2} is {adj} .",
                 "don't let the {neg_adj} first half fool you : {title} is {verdict} ."],
    "negative": ["even a {pos_adj} {aspect} can't rescue this {adj} {noun} .",
                 "what should have been a {pos_adj} {noun} {vp} ."],
}
IMDB_OPENERS = [
    "I watched {title} last {when} with {company}.", "I went into {title} knowing almost nothing about it.",
    "{title} was recommended to me by a {friend}.", "I finally caught {title} on {platform}.",
    "{actor} stars in this {noun} from director {name}.", "I had read a lot about {title} before seeing it.",
]
IMDB_MIDDLES = [
    "The {aspect} is {adj} and the {aspect2} is {intens} {adj2}.",
    "{actor} is {adj} as the {role}, and the {aspect} {vp}.", "From the first scene, the {noun} {vp}.",
    "Every scene feels {adj}, and the {aspect} is {adj2}.", "It is a {adj}, {adj2} {noun} that {vp}.",
]
IMDB_CONTRAST = {
    "positive": ["The {aspect} is a bit {neg_adj} at times, but the {noun} {vp}."],
    "negative": ["The {aspect} is {pos_adj}, but the {noun} {vp}."],
}
IMDB_CLOSERS = {
    "positive": ["I would happily watch it again.", "{score}/10, highly recommended.", "Do not miss this one.",
                 "It is one of the best things I have seen this year."],
    "negative": ["{score}/10, I cannot recommend it.", "I want those two hours back.",
                 "Skip it and read a book instead.", "I nearly walked out halfway through."],
}
IMDB_EXTRA = {
    "when": ["weekend", "night", "Friday", "month"],
    "company": ["my sister", "some friends", "my parents", "my partner", "my roommate"],
    "friend": ["coworker", "neighbor", "friend", "cousin"],
    "platform": ["television", "a long flight", "a streaming service", "DVD"],
}


def _choose_template(rng: random.Random, shared: list[str], contrast: dict[str, list[str]], label: str) -> str:
    return _pick(rng, contrast[label]) if rng.random() < 0.2 else _pick(rng, shared)


def make_sst2(rng: random.Random, label: str) -> Example:
    slots = _review_slots(rng, label == "positive")
    text = _fill(_choose_template(rng, SST2_TEMPLATES, SST2_CONTRAST, label), slots)
    return Example((_spaced(text.lower()) + " ",))


def make_rotten_tomatoes(rng: random.Random, label: str) -> Example:
    slots = _review_slots(rng, label == "positive")
    text = _fill(_choose_template(rng, RT_TEMPLATES, RT_CONTRAST, label), slots)
    return Example((_spaced(text.lower(), split_clitics=False),))


def make_imdb(rng: random.Random, label: str) -> Example:
    slots = _review_slots(rng, label == "positive")
    slots.update({k: _pick(rng, v) for k, v in IMDB_EXTRA.items()})
    slots["score"] = rng.randint(7, 10) if label == "positive" else rng.randint(1, 4)
    parts = [_pick(rng, IMDB_OPENERS), _choose_template(rng, IMDB_MIDDLES, IMDB_CONTRAST, label)]
    if rng.random() < 0.7:
        parts.append(_pick(rng, IMDB_CLOSERS[label]))
    return Example((" ".join(_fill(p, slots) for p in parts),))


FP_COMPANIES = ["Nordvik Oyj", "Kestrel Group", "Aalto Paper", "Baltic Steelworks", "Lumo Telecom", "Harju Foods",
                "Saimaa Logistics", "Pohja Cables", "Vesta Shipping", "Kivi Construction", "Tapiola Retail",
                "Lakeside Pharma"]
FP_METRICS = ["net sales", "operating profit", "pre-tax profit", "revenue", "order intake", "net profit",
              "operating income"]
FP_PERIODS = ["the first quarter of 2008", "the second quarter of 2009", "2007", "January-June 2010",
              "the third quarter of 2006", "the fourth quarter of 2008", "January-September 2009",
              "the financial year 2010"]
FP_CITIES = ["Helsinki", "Tampere", "Oulu", "Espoo", "Turku", "Stockholm", "Tallinn", "Riga"]
FP_TEMPLATES = {
    "positive": ["{co}'s {metric} rose to EUR {hi} mn from EUR {lo} mn in {period} .",
                 "{co} said its {metric} increased by {pct} % in {period} .",
                 "{co} has won a contract worth EUR {hi} mn from {client} .",
                 "Shares in {co} jumped {pct} % after the company raised its outlook for {period} .",
                 "In {period} , {co} improved its {metric} to EUR {hi} mn .",
                 "{co} expects its {metric} to grow clearly in {period} ."],
    "negative": ["{co}'s {metric} fell to EUR {lo} mn from EUR {hi} mn in {period} .",
                 "{co} said its {metric} decreased by {pct} % in {period} .",
                 "{co} will cut {jobs} jobs at its plant in {city} .",
                 "Shares in {co} dropped {pct} % after the company lowered its outlook for {period} .",
                 "{co} swung to an operating loss of EUR {lo} mn in {period} .",
                 "{co} warned that its {metric} will decline in {period} ."],
    "neutral": ["{co} is headquartered in {city} .",
                "{co} will publish its results for {period} on {day} {month} .",
                "The company employs about {jobs} people in {city} .",
                "{co} operates {num} stores in the Nordic countries .",
                "The contract covers the delivery of equipment to {client} .",
                "{co}'s {metric} for {period} will be reported in EUR ."],
}


def make_financial_phrasebank(rng: random.Random, label: str) -> Example:
    lo = round(rng.uniform(2, 90), 1)
    co, client = rng.sample(FP_COMPANIES, 2)
    slots = {"co": co, "client": client, "metric": _pick(rng, FP_METRICS), "period": _pick(rng, FP_PERIODS),
             "city": _pick(rng, FP_CITIES), "lo": lo, "hi": round(lo * rng.uniform(1.1, 1.9), 1),
             "pct": rng.randint(2, 35), "jobs": rng.randrange(20, 900, 10), "num": rng.randint(5, 120),
             "day": rng.randint(1, 28), "month": _pick(rng, MONTHS)}
    return Example((_spaced(_fill(_pick(rng, FP_TEMPLATES[label]), slots)),))


# --------------------------------------------------------------------------------------
# Paraphrase: makers get a label name (STS-B: a similarity level 0-5)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    """One kind of news fact: paraphrases of it, and the slots a non-paraphrase changes."""

    forms: tuple[str, ...]
    alter: tuple[str, ...]


QUARTERS = ["first-quarter", "second-quarter", "third-quarter", "fourth-quarter"]
OFFICIALS = ["Finance Minister", "Health Secretary", "Governor", "Mayor", "Education Minister"]
ORGS = ["ministry", "city council", "state agency", "health service", "school board"]
POLICIES = ["raise the minimum wage next year", "close three rural hospitals", "hire 500 new teachers",
            "cut spending on road repairs", "expand free bus travel for students", "delay the new tax on fuel"]
JOURNALS = ["the Journal of Public Health", "Nature Medicine", "the Lancet", "the British Medical Journal", "Science"]
FINDINGS = ["regular walking lowers the risk of heart disease", "people who sleep less than six hours eat more sugar",
            "drinking coffee does not harm the liver", "children who read daily do better at maths",
            "air pollution raises the risk of asthma in adults",
            "working from home reduces stress for most employees"]
RACES = ["mayoral race", "Senate primary", "governor's race", "party leadership contest"]
STORMS = ["winter storm", "tropical storm", "thunderstorm", "snowstorm", "ice storm"]
STATES = ["northern Texas", "the Midwest", "southern Ontario", "coastal Oregon", "eastern Kentucky", "central Florida"]
CRIMES = ["bank fraud", "tax evasion", "armed robbery", "insider trading", "bribery"]
PROBES = ["Helios", "Orion", "Juno Two", "Kestrel", "Artemis Lander"]


def _news_slots(rng: random.Random) -> dict[str, Any]:
    co, co2 = rng.sample(COMPANIES, 2)
    p = _person(rng)
    y = rng.randint(12, 400)
    return {"co": co, "co2": co2, "person": p["name"], "day": _pick(rng, DAYS), "city": _pick(rng, CITIES),
            "quarter": _pick(rng, QUARTERS), "y": y, "x": y + rng.randint(5, 150), "n": rng.randint(12, 240),
            "p": rng.randint(3, 62), "price": f"{rng.uniform(4, 95):.2f}",
            "official": f"{_pick(rng, OFFICIALS)} {p['name']}", "org": _pick(rng, ORGS),
            "policy": _pick(rng, POLICIES), "journal": _pick(rng, JOURNALS), "finding": _pick(rng, FINDINGS),
            "race": _pick(rng, RACES), "storm": _pick(rng, STORMS), "region": _pick(rng, STATES),
            "homes": rng.randrange(2000, 90000, 500), "years": rng.randint(2, 25),
            "adults": _number(rng.randrange(800, 60000, 100)), "crime": _pick(rng, CRIMES),
            "bn": round(rng.uniform(1.2, 19.5), 1), "probe": _pick(rng, PROBES), "month": _pick(rng, MONTHS),
            "year": rng.randint(2025, 2031),
            "building": _pick(rng, ["city hall", "parliament", "courthouse", "embassy"])}


MRPC_EVENTS = [
    Event(("{co} reported {quarter} profit of ${x} million , up from ${y} million a year earlier .",
           "{co} said its {quarter} profit rose to ${x} million from ${y} million a year ago .",
           "Profit at {co} climbed to ${x} million in the {quarter} period , compared with "
           "${y} million a year before ."),
          ("x", "y", "co", "quarter")),
    Event(("Police in {city} arrested {n} people on {day} after a protest outside the {building} .",
           "Officers detained {n} protesters outside the {building} in {city} on {day} .",
           "On {day} , {n} people were arrested at a protest outside the {city} {building} ."),
          ("n", "city", "day", "building")),
    Event(("{official} said on {day} that the {org} would {policy} .",
           "The {org} will {policy} , {official} announced on {day} .",
           "On {day} , {official} announced that the {org} plans to {policy} ."),
          ("policy", "org", "official")),
    Event(("A study of {adults} adults published in {journal} found that {finding} .",
           "Research involving {adults} adults , published in {journal} , showed that {finding} .",
           "{journal} published a study of {adults} adults showing that {finding} ."),
          ("finding", "adults", "journal")),
    Event(("Shares of {co} fell {p} percent to ${price} on {day} .",
           "{co} stock dropped {p} percent on {day} , closing at ${price} .",
           "On {day} , {co} shares lost {p} percent to end at ${price} ."),
          ("p", "price", "day", "co")),
    Event(("{person} won the {race} with {p} percent of the vote .",
           "{person} took {p} percent of the vote to win the {race} .",
           "With {p} percent of the ballots , {person} captured the {race} ."),
          ("person", "p", "race")),
    Event(("A {storm} hit {region} on {day} , leaving about {homes} homes without power .",
           "About {homes} homes in {region} lost power on {day} after a {storm} swept through .",
           "The {storm} that struck {region} on {day} cut electricity to roughly {homes} homes ."),
          ("homes", "region", "storm", "day")),
    Event(("{person} was sentenced to {years} years in prison for {crime} .",
           "A judge sentenced {person} to {years} years behind bars for {crime} .",
           "{person} received a prison term of {years} years for {crime} ."),
          ("years", "crime", "person")),
    Event(("{co} agreed to buy {co2} for about ${bn} billion in cash .",
           "{co} will acquire {co2} in a cash deal worth roughly ${bn} billion .",
           "{co2} is being bought by {co} for around ${bn} billion in cash ."),
          ("bn", "co2", "co")),
    Event(("The agency said the {probe} probe would launch in {month} {year} .",
           "The {probe} probe is scheduled to lift off in {month} {year} , the agency said .",
           "According to the agency , the launch of the {probe} probe is set for {month} {year} ."),
          ("month", "year", "probe")),
]


def make_mrpc(rng: random.Random, label: str) -> Example:
    event = _pick(rng, MRPC_EVENTS)
    form1, form2 = rng.sample(event.forms, 2)
    slots = _news_slots(rng)
    other = dict(slots)
    if label == "not_equivalent":
        # A non-paraphrase changes one or two facts of the same event, as MRPC's
        # negatives mostly share the topic and many words.
        for key in rng.sample(event.alter, rng.choice((1, 2))):
            while other[key] == slots[key]:
                other[key] = _news_slots(rng)[key]
    return Example((_cap(_fill(form1, slots)), _cap(_fill(form2, other))))


@dataclass(frozen=True)
class Intent:
    """A question intent: several paraphrases with one topic slot ``{t}``."""

    topics: str  # key into the topic table
    forms: tuple[str, ...]


QQP_TOPICS = {
    "skill": ["Python", "Java", "machine learning", "guitar", "Spanish", "photography", "data science",
              "graphic design", "piano", "French", "web development", "chess"],
    "city": ["Toronto", "Berlin", "Tokyo", "Lisbon", "Melbourne", "Austin", "Dublin", "Seoul", "Mumbai", "Prague",
             "Vancouver", "Cape Town"],
    "habit": ["procrastinating", "biting my nails", "checking my phone at night", "snacking late at night",
              "overthinking everything", "drinking too much soda", "waking up late", "spending too much money online"],
    "thing": ["Minecraft", "yoga", "K-pop", "cricket", "coffee", "anime", "Reddit", "electric cars", "podcasts",
              "sushi"],
}
QQP_INTENTS = [
    Intent("skill", ("How do I learn {t}?", "What is the best way to learn {t}?",
                     "How can I start learning {t} on my own?", "What are good resources for learning {t}?")),
    Intent("skill", ("What jobs can I get if I know {t}?", "Which careers need {t} skills?",
                     "What kind of work can I do with {t}?")),
    Intent("skill", ("How long does it take to learn {t}?", "How many months do I need to get good at {t}?",
                     "How much time is needed to learn {t} well?")),
    Intent("city", ("What are the best places to visit in {t}?", "What should I see in {t}?",
                    "Which sights in {t} are worth visiting?")),
    Intent("city", ("Is {t} a good place to live?", "What is it like to live in {t}?",
                    "Would you recommend living in {t}?")),
    Intent("city", ("How expensive is it to live in {t}?", "What is the cost of living in {t}?",
                    "How much money do I need to live in {t}?")),
    Intent("habit", ("How can I stop {t}?", "What is the best way to quit {t}?",
                     "How do I get rid of the habit of {t}?")),
    Intent("habit", ("Why do I keep {t}?", "What causes me to keep {t}?", "What is the reason I can't stop {t}?")),
    Intent("thing", ("Why is {t} so popular?", "What makes {t} so popular?", "Why do so many people like {t}?")),
    Intent("thing", ("Is {t} overrated?", "Do you think {t} is overrated?", "Is {t} really as good as people say?")),
]


def make_qqp(rng: random.Random, label: str) -> Example:
    """Duplicate: two phrasings of one (intent, topic). Otherwise a near miss or a stranger."""
    intent = _pick(rng, QQP_INTENTS)
    topic = _pick(rng, QQP_TOPICS[intent.topics])
    q1, q2 = rng.sample(intent.forms, 2)
    if label == "duplicate":
        return Example((q1.format(t=topic), q2.format(t=topic)))
    kind = rng.randrange(3)
    if kind == 0:  # same topic, another intent on it
        other = _pick(rng, [i for i in QQP_INTENTS if i.topics == intent.topics and i is not intent])
        return Example((q1.format(t=topic), _pick(rng, other.forms).format(t=topic)))
    if kind == 1:  # same intent, another topic
        other_topic = _pick(rng, [t for t in QQP_TOPICS[intent.topics] if t != topic])
        return Example((q1.format(t=topic), q2.format(t=other_topic)))
    other = _pick(rng, [i for i in QQP_INTENTS if i.topics != intent.topics])
    return Example((q1.format(t=topic), _pick(rng, other.forms).format(t=_pick(rng, QQP_TOPICS[other.topics]))))


MED_TOPICS = {
    "condition": ["asthma", "diabetes", "high blood pressure", "migraines", "eczema", "acid reflux", "arthritis",
                  "anemia", "psoriasis", "gout", "sinusitis"],
    "infection": ["the flu", "strep throat", "shingles", "pink eye", "chickenpox", "a cold sore"],
    "drug": ["ibuprofen", "metformin", "amoxicillin", "lisinopril", "sertraline", "omeprazole", "prednisone",
             "cetirizine", "atorvastatin"],
}
MED_INTENTS = [
    Intent("condition", ("What are the early signs of {t}?", "How can I tell if I have {t}?",
                         "Which symptoms point to {t}?")),
    Intent("condition", ("What is the best treatment for {t}?", "How is {t} usually treated?",
                         "What can a doctor do for {t}?")),
    Intent("condition", ("What foods should I avoid if I have {t}?", "Are there foods that make {t} worse?",
                         "Which things should I not eat with {t}?")),
    Intent("condition", ("Can I exercise if I have {t}?", "Is it okay to work out with {t}?",
                         "Is physical activity safe for someone with {t}?")),
    Intent("condition", ("How can I prevent {t}?", "What can I do to lower my risk of {t}?",
                         "Is there a way to avoid getting {t}?")),
    Intent("infection", ("Is {t} contagious?", "Can I catch {t} from someone else?",
                         "Does {t} spread from person to person?")),
    Intent("infection", ("How long does {t} last?", "How many days until {t} goes away?", "When will {t} clear up?")),
    Intent("drug", ("What side effects can {t} cause?", "Are there side effects of taking {t}?",
                    "What problems can {t} cause when I take it?")),
    Intent("drug", ("Can I drink alcohol while taking {t}?", "Is it safe to have a beer on {t}?",
                    "Does alcohol interact with {t}?")),
    Intent("drug", ("Is it safe to take {t} during pregnancy?", "Can a pregnant woman use {t}?",
                    "Should I stop {t} if I am pregnant?")),
]
MED_PREFIXES = ["", "", "", "Doctor, ", "Quick question: ", "I am {age} years old. ", "My {relative} asked me this. ",
                "I was wondering: "]


def make_medical_questions_pairs(rng: random.Random, label: str) -> Example:
    # The hub set's negatives are written by the same doctor on the same topic,
    # so every pair here shares its condition or drug.
    intent = _pick(rng, MED_INTENTS)
    topic = _pick(rng, MED_TOPICS[intent.topics])
    q1, q2 = rng.sample(intent.forms, 2)
    if label == "otherwise":
        other = _pick(rng, [i for i in MED_INTENTS if i.topics == intent.topics and i is not intent])
        q2 = _pick(rng, other.forms)
    slots = {"age": rng.randint(19, 78),
             "relative": _pick(rng, ["mother", "father", "wife", "husband", "son", "friend"])}

    def with_prefix(question: str) -> str:
        prefix = _pick(rng, MED_PREFIXES).format_map(slots)
        if prefix.endswith(", "):  # "Doctor, what ..." goes on in lower case
            question = question[:1].lower() + question[1:]
        return prefix + question

    dr_id = rng.randint(1, 11)  # the hub's doctor id
    return Example((with_prefix(q1.format(t=topic)), with_prefix(q2.format(t=topic))), extra={"dr_id": dr_id})


STS_LEVELS = (0, 1, 2, 3, 4, 5)  # STS guideline: 5 same meaning ... 0 unrelated
STS_SUBJECTS = [("a man", "a guy"), ("a woman", "a lady"), ("a boy", "a young boy"), ("a girl", "a young girl"),
                ("a child", "a kid"), ("an old man", "an elderly man"), ("a young woman", "a young lady"),
                ("a teenager", "a teen"), ("a person", "someone"), ("a police officer", "a cop")]
STS_ACTIONS = [  # (verb forms with {o}, objects)
    (("is playing {o}", "plays {o}"), ("a guitar", "a piano", "a flute", "the drums", "a violin")),
    (("is slicing {o}", "is cutting {o}", "cuts {o}"),
     ("an onion", "a tomato", "some bread", "a potato", "a cucumber")),
    (("is riding {o}", "rides {o}"), ("a bicycle", "a horse", "a skateboard", "a motorcycle")),
    (("is reading {o}", "reads {o}"), ("a book", "a newspaper", "a letter", "a magazine")),
    (("is throwing {o}", "throws {o}", "tosses {o}"), ("a ball", "a frisbee", "a stick")),
    (("is eating {o}", "eats {o}"), ("an apple", "a sandwich", "some noodles", "a banana")),
    (("is painting {o}", "paints {o}"), ("a fence", "a picture", "a wall", "a chair")),
    (("is washing {o}", "washes {o}", "is cleaning {o}"), ("a car", "the dishes", "a window")),
    (("is carrying {o}", "carries {o}"), ("a box", "a bag", "a basket", "a ladder")),
    (("is peeling {o}", "peels {o}"), ("an orange", "a banana", "some potatoes", "a carrot")),
]
STS_PLACES = [("in a kitchen", "in the kitchen"), ("on a beach", "on the beach"), ("in a park", "at the park"),
              ("on a stage", "on stage"), ("in a field", "in the field"), ("on a street", "on the street"),
              ("in a garden", "in the garden"), ("at a market", "at the market")]


def _sts_sentence(subject: str, verb: str, obj: str, place: str) -> str:
    return _cap(" ".join(w for w in (subject, verb.format(o=obj), place) if w)) + "."


def make_stsb(rng: random.Random, level: int) -> Example:
    """A pair at one of six similarity levels; its score is the level, jittered by up to 0.4."""
    subj_i, subj_j = rng.sample(range(len(STS_SUBJECTS)), 2)
    act_i, act_j = rng.sample(range(len(STS_ACTIONS)), 2)
    place_i, place_j = rng.sample(range(len(STS_PLACES)), 2)
    verbs, objects = STS_ACTIONS[act_i]
    obj, obj2 = rng.sample(objects, 2)
    subject, subject_syn = STS_SUBJECTS[subj_i]
    place, place_syn = STS_PLACES[place_i]
    place = place if rng.random() < 0.7 else ""
    place_syn = place_syn if place else ""
    v1, v2 = rng.sample(verbs, 2)
    s1 = _sts_sentence(subject, v1, obj, place)
    verbs2, objects2 = STS_ACTIONS[act_j]
    if level == 5:    # same meaning, other words
        s2 = _sts_sentence(subject_syn, v2, obj, place_syn)
    elif level == 4:  # same event, the place dropped or added
        s2 = _sts_sentence(subject_syn, v2, obj, "" if place else STS_PLACES[place_j][0])
    elif level == 3:  # same subject and action, another object
        s2 = _sts_sentence(subject, v2, obj2, place_syn)
    elif level == 2:  # same subject, another action
        s2 = _sts_sentence(subject, verbs2[0], _pick(rng, objects2), place)
    elif level == 1:  # same setting only
        s2 = _sts_sentence(STS_SUBJECTS[subj_j][0], verbs2[0], _pick(rng, objects2), place or STS_PLACES[place_i][0])
    else:             # unrelated
        s2 = _sts_sentence(STS_SUBJECTS[subj_j][0], verbs2[0], _pick(rng, objects2),
                           _pick(rng, (STS_PLACES[place_j][0], "")))
    if rng.random() < 0.5:
        s1, s2 = s2, s1
    score = min(5.0, max(0.0, level + rng.choice((-0.4, -0.2, 0.0, 0.0, 0.2, 0.4))))
    return Example((s1, s2), label=round(score, 1))


# --------------------------------------------------------------------------------------
# NLI: makers get a label name (entailment / neutral / contradiction, RTE's not_entailment)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """A premise family: premise forms, and hypothesis forms per label name, filled from ``slots``."""

    slots: Callable[[random.Random], dict[str, Any]]
    premises: tuple[str, ...]
    hyps: Mapping[str, tuple[str, ...]]


def make_nli(scenarios: Sequence[Scenario], rng: random.Random, label: str) -> Example:
    """(premise, hypothesis) from one of ``scenarios``."""
    if label == "not_entailment":  # RTE's two-way labels: neutral or contradiction
        label = _pick(rng, ("neutral", "contradiction"))
    scenario = _pick(rng, scenarios)
    slots = scenario.slots(rng)
    premise = _fill(_pick(rng, scenario.premises), slots)
    hypothesis = _cap(_fill(_pick(rng, scenario.hyps[label]), slots))
    # Telephone-genre premises (MNLI) stay lower-case and unpunctuated, as MNLI's transcripts are.
    return Example((premise if premise.startswith(("yeah", "i ")) else _cap(premise), hypothesis))


SNLI_PEOPLE = [("man", "person"), ("woman", "person"), ("boy", "child"), ("girl", "child"), ("young man", "person"),
               ("young woman", "person"), ("old man", "person"), ("old woman", "person")]
SNLI_ATTRS = ["in a red shirt", "wearing a blue hat", "with a backpack", "in a yellow jacket", "with long hair",
              "wearing sunglasses", "in a striped sweater", "in a green coat"]
SNLI_ACTS = [  # (activity, places, entailed generalisations, incompatible activities)
    ("is playing a guitar", ("on a street corner", "on a stage", "in a park"),
     ("is playing an instrument", "is making music"), ("is sleeping in bed", "is swimming in a pool")),
    ("is riding a bicycle", ("down a busy street", "along a beach path", "through a park"),
     ("is riding a bike", "is on a bike"), ("is sitting on a couch", "is asleep in bed")),
    ("is cooking noodles", ("in a small kitchen", "at a street stall"),
     ("is preparing food", "is making a meal"), ("is surfing a wave", "is riding a horse")),
    ("is reading a newspaper", ("on a park bench", "in a cafe", "on a train"),
     ("is reading", "is looking at a newspaper"), ("is running a marathon", "is asleep")),
    ("is painting a fence", ("in a backyard", "outside a farmhouse"),
     ("is painting", "is working outside"), ("is sitting in a movie theater", "is taking a bath")),
    ("is climbing a rock wall", ("in a gym", "on a mountainside"),
     ("is climbing", "is exercising"), ("is lying on a sofa", "is eating dinner at a table")),
    ("is selling fruit", ("at a market stall", "on a sidewalk"),
     ("is selling something", "is working"), ("is sleeping at home", "is flying a plane")),
    ("is jumping into a lake", ("from a wooden dock", "from a big rock"),
     ("is jumping into water", "is outdoors"), ("is sitting in an office", "is baking a cake")),
    ("is throwing a ball to a dog", ("in a park", "on a beach"),
     ("is playing with a dog", "is playing with an animal"), ("is sleeping in bed", "is sitting at a desk")),
    ("is taking a photograph", ("of a tall building", "of the sunset"),
     ("is using a camera", "is taking a picture"), ("is napping with eyes closed", "is swimming underwater")),
    ("is carrying a stack of boxes", ("up a flight of stairs", "across a warehouse"),
     ("is carrying something", "is holding boxes"), ("is sitting down and resting", "is swimming")),
    ("is singing into a microphone", ("on a stage", "at a wedding"),
     ("is singing", "is performing"), ("is silently reading", "is sleeping")),
    ("is pushing a stroller", ("along a sidewalk", "through a crowded mall"),
     ("is pushing something", "is walking"), ("is sitting on a bench", "is driving a car")),
    ("is washing a car", ("in a driveway", "at a gas station"),
     ("is cleaning a car", "is cleaning something"), ("is sleeping inside", "is riding a horse")),
]
SNLI_NEUTRAL_MODS = ["for the first time", "to earn some extra money", "while waiting for a friend",
                     "after a long day at work", "to impress someone", "on a cold morning"]
SNLI_NEUTRAL_FACTS = ["is a professional", "is on vacation", "is very tired", "is celebrating a birthday", "is happy",
                      "is late for work", "is famous"]


def _snli_slots(rng: random.Random) -> dict[str, Any]:
    noun, general = _pick(rng, SNLI_PEOPLE)
    act, places, gens, contras = _pick(rng, SNLI_ACTS)
    return {"noun": noun, "general": general, "attr": _pick(rng, SNLI_ATTRS), "act": act,
            "place": _pick(rng, places), "gen": _pick(rng, gens), "contra": _pick(rng, contras),
            "mod": _pick(rng, SNLI_NEUTRAL_MODS), "fact": _pick(rng, SNLI_NEUTRAL_FACTS)}


SNLI_SCENARIOS = [Scenario(
    _snli_slots,
    ("A {noun} {attr} {act} {place}.", "A {noun} {act} {place}.", "A {noun} {attr} {act}."),
    {"entailment": ("A {general} {gen}.", "The {noun} {gen}.", "Someone {gen}.", "A {noun} {act}."),
     "neutral": ("The {noun} {act} {mod}.", "The {noun} {fact}.", "A {noun} {fact}.", "The {general} {gen} {mod}."),
     "contradiction": ("The {noun} {contra}.", "Nobody {act}.", "A {noun} {attr} {contra}.",
                       "The {general} {contra}.")},
)]


def _mnli_slots(rng: random.Random) -> dict[str, Any]:
    p = _person(rng)
    return {
        "name": p["first"], "pron": p["pron"], "poss": p["poss"], "town": _pick(rng, TOWNS),
        "site": _pick(rng, ["the old cathedral", "the harbor fortress", "the royal gardens", "the stone bridge",
                            "the spice market", "the abbey ruins"]),
        "century": _pick(rng, ["twelfth", "fifteenth", "seventeenth", "eighteenth"]),
        "season": _pick(rng, ["summer", "spring", "autumn"]),
        "agency": _pick(rng, ["the Department of Transport", "the tax office", "the housing agency",
                              "the state health board"]),
        "program": _pick(rng, ["online filing system", "new scheduling software", "simplified permit process",
                               "shared records database"]),
        "pct": rng.randint(10, 45),
        "activity": _pick(rng, ["camping", "gardening", "fishing", "baking bread", "cross-country skiing", "painting",
                                "bird watching"]),
        "hard": _pick(rng, ["expensive", "tiring", "messy", "complicated", "time-consuming"]),
        "hall": _pick(rng, ["the hallway", "the stairwell", "the corridor"]),
        "work": _pick(rng, ["novel", "album", "film", "memoir", "play"]),
        "hour": _pick(rng, ["nine", "ten", "eleven", "midnight"]),
        "month": _pick(rng, MONTHS),
        "island": _pick(rng, ["Inis Carra", "Holm Island", "Little Skerry", "Vaara Island"]),
        "shops": _pick(rng, ["three", "four", "five", "six"]),
        "staff": _pick(rng, ["ten", "twenty", "fifteen", "twelve"]),
        "kid": _pick(rng, ["son", "daughter", "youngest", "oldest"]),
        "school": f"{_pick(rng, TOWNS)} {_pick(rng, ['Elementary', 'Middle School', 'High'])}",
    }


def _scenarios(slots: Callable[[random.Random], dict[str, Any]], *rows: tuple) -> list[Scenario]:
    """Scenarios of one premise each: rows of (premise, entailment, neutral, contradiction hypotheses)."""
    return [Scenario(slots, (premise,), {"entailment": ent, "neutral": neu, "contradiction": con})
            for premise, ent, neu, con in rows]


MNLI_SCENARIOS = _scenarios(
    _mnli_slots,
    ("Built in the {century} century, {site} in {town} still draws thousands of visitors every {season}, most of "
     "whom arrive by ferry.",
     ("{site} in {town} is popular with visitors.", "Many visitors come to {town} by ferry."),
     ("{site} is the oldest building in {town}.", "The ferry to {town} is expensive."),
     ("Hardly anyone visits {site} in {town}.", "{site} in {town} was built only ten years ago.")),
    ("{agency} expects the {program} to cut average processing times by about {pct} percent over the next two years.",
     ("{agency} thinks processing will get faster.", "The {program} is expected to save time."),
     ("The {program} cost more than expected.", "{agency} plans to hire new staff for the {program}."),
     ("{agency} expects processing times to increase.",
      "The {program} is not expected to change processing times.")),
    ("yeah well we tried {activity} a couple of times last year but honestly it was just too {hard} for us so we "
     "gave it up",
     ("They have tried {activity} before.", "They no longer do {activity}."),
     ("They tried {activity} with their children.", "Their neighbors got them interested in {activity}."),
     ("They have never tried {activity}.", "They enjoy {activity} so much that they do it every weekend.")),
    ("{name} closed the door quietly and waited in the dark until the footsteps in {hall} had faded away.",
     ("{name} waited for the footsteps to fade.", "{name} shut the door."),
     ("{name} was hiding from {poss} landlord.", "The footsteps belonged to a police officer."),
     ("{name} flung the door open and ran into {hall}.", "{name} left the door wide open.")),
    ("Critics have called {name}'s new {work} the most ambitious of {poss} career, although sales so far have been "
     "modest.",
     ("{name}'s new {work} has not sold especially well.", "Critics see the {work} as ambitious."),
     ("{name} plans to retire after this {work}.", "{name}'s previous {work} sold better."),
     ("{name}'s new {work} has been a huge commercial success.", "Critics called the {work} unambitious.")),
    ("From {month} onward the museum will stay open until {hour} on Thursdays, and admission after six will be free "
     "for students.",
     ("Students can get in free on Thursday evenings.", "The museum will be open late on Thursdays."),
     ("The change was requested by students.", "Most visitors come to the museum on weekends."),
     ("The museum will close early on Thursdays.", "Students must pay full price on Thursday evenings.")),
    ("Visitors to {island} should bring cash, since the island's {shops} small shops rarely accept cards.",
     ("Cards are not widely accepted on {island}.", "There are shops on {island}."),
     ("{island} has a bank.", "Most visitors to {island} come from abroad."),
     ("Every shop on {island} takes credit cards.", "There are no shops on {island}.")),
    ("Under the proposed rule, farms with fewer than {staff} employees would be exempt from the new reporting "
     "requirements.",
     ("Small farms would not have to file the new reports.", "Some farms would be exempt from the rule."),
     ("Most farms have fewer than {staff} employees.", "Farmers asked for the exemption."),
     ("All farms would have to file the new reports.", "The rule would exempt only the largest farms.")),
    ("{name} had promised to be home by {hour}, but the last bus from {town} was already pulling away when {pron} "
     "reached the stop.",
     ("{name} missed the last bus.", "{name} had promised to be home at a certain time."),
     ("{name} had to walk home.", "{name}'s family was angry."),
     ("{name} caught the last bus with time to spare.", "{name} never said when {pron} would be home.")),
    ("i think the schools around here are pretty good actually my {kid} goes to {school} and the teachers there "
     "really seem to care",
     ("The speaker's {kid} attends {school}.", "The speaker has a good opinion of the local schools."),
     ("{school} is a private school.", "The speaker works as a teacher."),
     ("The speaker thinks the local schools are terrible.", "The speaker has no children.")),
)


def _rte_slots(rng: random.Random) -> dict[str, Any]:
    p, p2 = _person(rng), _person(rng)
    co, co2 = rng.sample(COMPANIES, 2)
    city, city2 = rng.sample(CITIES, 2)
    (country, _), (country2, _) = rng.sample(COUNTRIES, 2)
    region, region2 = rng.sample(STATES, 2)
    team, team2 = rng.sample(["Riverside United", "Northport City", "Eastholm Rovers", "the Harbor Hawks",
                              "Lakeside Athletic", "the Valley Foxes"], 2)
    return {"name": p["name"], "name2": p2["name"], "co": co, "co2": co2, "city": city, "city2": city2,
            "country": country, "country2": country2, "region": region, "region2": region2, "team": team,
            "team2": team2, "day": _pick(rng, DAYS), "bn": round(rng.uniform(1.5, 30.0), 1),
            "town": _pick(rng, TOWNS),
            "thing": _pick(rng, ["temple", "Roman villa", "fortified farm", "burial mound", "harbor wall",
                                 "bronze-age village"]),
            "age": _pick(rng, ["1,000", "2,000", "3,500", "4,000"]),
            "org": _pick(rng, ["national museum", "central bank", "football federation", "state broadcaster",
                               "space agency"]),
            "small": _pick(rng, ["city orchestra", "regional airport", "university press", "national archive"]),
            "disaster": _pick(rng, ["earthquake", "flood", "landslide", "cyclone"]),
            "deaths": rng.randint(3, 80), "title": _title(rng),
            "prize": _pick(rng, ["Northern Book Prize", "Harbor Fiction Award", "Golden Quill Prize"]),
            "year": rng.randint(1995, 2023), "books": rng.randint(3, 9),
            "s1": rng.randint(2, 4), "s2": rng.randint(0, 1),
            "cup": _pick(rng, ["league cup", "national cup", "regional championship"]),
            "gap": rng.randint(8, 40),
            "ban": _pick(rng, ["smoking in restaurants and bars", "single-use plastic bags",
                               "fireworks in city centers", "phones in primary schools"])}


RTE_SCENARIOS = _scenarios(
    _rte_slots,
    ("{co}, which is based in {city}, announced on {day} that it had agreed to acquire {co2} for {bn} billion "
     "dollars.",
     ("{co} is buying {co2}.", "{co} is based in {city}."),
     ("{co} sold a factory to {co2} last year.", "{co2} has more employees than {co}."),
     ("{co2} is buying {co}.", "{co} is based in {city2}.")),
    ("Archaeologists working near {town} have uncovered the remains of a {thing} that they believe is more than "
     "{age} years old.",
     ("Remains of a {thing} were found near {town}.", "The {thing} is thought to be over {age} years old."),
     ("The archaeologists came from a university in {city}.", "The {thing} will be opened to tourists."),
     ("The {thing} was built recently.", "Nothing was found near {town}.")),
    ("{name}, who previously ran the {small}, was named head of the {org} on {day}, replacing {name2}.",
     ("{name} is the new head of the {org}.", "{name2} no longer leads the {org}."),
     ("{name} founded the {small}.", "{name2} retired from public life."),
     ("{name2} was named head of the {org}.", "{name} has never worked for the {small}.")),
    ("At least {deaths} people died when a {disaster} struck {region} early on {day}, officials said.",
     ("A {disaster} hit {region}.", "People died in {region}."),
     ("The {disaster} was the worst ever recorded in {region}.", "Foreign aid arrived in {region} on {day}."),
     ("Nobody was hurt in the {disaster}.", "The {disaster} struck {region2}.")),
    ("The novel {title}, written by {name}, won the {prize} in {year}, beating five other books on the shortlist.",
     ("{name} wrote {title}.", "{title} won the {prize}."),
     ("{name} has written {books} novels.", "{title} was made into a film."),
     ("{title} was written by {name2}.", "{title} did not win the {prize}.")),
    ("{team} beat {team2} {s1}-{s2} on {day} to win their first {cup} title in {gap} years.",
     ("{team} won the {cup}.", "{team2} lost to {team}."),
     ("The final was played in {city}.", "{team2} had won the {cup} before."),
     ("{team2} won the {cup}.", "{team} lost the final.")),
    ("The parliament of {country} passed a law on {day} that bans {ban}, following months of debate.",
     ("{country} has banned {ban}.", "A new law was passed in {country}."),
     ("Most people in {country} support the ban.", "{country2} is planning a similar law."),
     ("{country} still allows {ban}.", "The parliament of {country} rejected the ban.")),
)

CB_CONTEXTS = [
    "It had been a long week at the office.", "The rain had not stopped since morning.",
    "A: We talked about it all the way home.", "B: Well, you know how things are around here.",
    "Nobody said much at dinner that night.", "The house was quiet when they got back.",
    "A: Did you hear what happened on Friday?", "B: I've been thinking about it a lot.",
    "The letter arrived on a grey Tuesday.", "They had waited at the station for an hour.", "", "",
]
CB_CLAUSES = [
    "{other} had left the party early", "the train would be late again", "the shop on the corner had closed for good",
    "the dog had eaten the birthday cake", "the letter was from {other}", "the roof needed to be repaired",
    "the bank would lend them the money", "the children had broken the window", "the old house was haunted",
    "the meeting had gone badly", "{other} was moving to another city", "the car would not start",
    "the tickets were already sold out", "{other} had lied about the accident", "the garden needed more water",
    "the new teacher was from abroad", "the river had flooded the lower road", "{other} would win the election",
]
CB_FRAMES = {  # the premise embeds the clause under a verb that commits the speaker to it, or not
    "entailment": ("{name} realized that {clause}.", "{name} knew perfectly well that {clause}.",
                   "It was clear to {name} that {clause}.", "B: I found out yesterday that {clause}.",
                   "{name} was relieved to learn that {clause}.", "{name} noticed that {clause}."),
    "contradiction": ("B: I don't think {clause}.", "{name} pretended that {clause}, but it was not so.",
                      "{name} used to believe that {clause}, but {pron} knows better now.",
                      "{name} falsely claimed that {clause}.", "It turned out to be untrue that {clause}."),
    "neutral": ("{name} wondered whether {clause}.", "B: I'm not sure {clause}.",
                "{name} suspected that {clause}, but nobody could say for certain.",
                "B: Do you think {clause}? A: I really couldn't tell you.", "{name} asked if {clause}.",
                "Maybe {clause}; {name} had no way of knowing."),
}


def make_cb(rng: random.Random, label: str) -> Example:
    """(premise, hypothesis): the hypothesis is the clause the premise embeds."""
    p, other = _person(rng), _person(rng)
    clause = _pick(rng, CB_CLAUSES).format(other=other["name"])
    frame = _pick(rng, CB_FRAMES[label])
    context = _pick(rng, CB_CONTEXTS)
    sentence = _cap(_fill(frame, {"name": p["first"], "pron": p["pron"], "clause": clause}))
    return Example((" ".join(s for s in (context, sentence) if s), clause))


ANLI_JOBS = [  # (occupation, what they are known for)
    ("painter", "is known for large landscapes of the northern coast"),
    ("composer", "has written music for more than twenty films"),
    ("footballer", "played for three clubs in the national league"),
    ("architect", "designed the central library in {city}"),
    ("novelist", "has published six novels and two story collections"),
    ("chemist", "helped develop a cheaper water filter"),
    ("journalist", "reported from more than thirty countries"),
    ("singer", "released four albums with the band Paper Lanterns"),
]
SIBLINGS = ["no siblings", "one brother", "two sisters", "three brothers", "two brothers and two sisters"]
ORDINALS = ["second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
            "twelfth"]


def _anli_slots(rng: random.Random) -> dict[str, Any]:
    p = _person(rng)
    town, town2 = rng.sample(TOWNS, 2)
    (country, nat), (country2, _) = rng.sample(COUNTRIES, 2)
    river, river2 = rng.sample(RIVERS, 2)
    job, known = _pick(rng, ANLI_JOBS)
    born = rng.randint(1931, 1994)
    decade = born // 10 * 10
    sib = rng.randrange(len(SIBLINGS))
    n_teams = rng.randint(8, 30)
    start = rng.randint(1, 20)
    length = rng.randint(2, 8)
    month, month2 = rng.sample(MONTHS, 2)
    pop = rng.randint(1200, 48000)
    km = rng.randint(12, 140)
    edition = rng.randint(2, 12)
    return {
        "name": p["name"], "pron": _cap(p["pron"]), "poss": p["poss"], "job": job,
        "known": known.format(city=_pick(rng, CITIES)), "nat": nat, "country": country, "country2": country2,
        "town": town, "town2": town2, "river": river, "river2": river2, "born": born,
        "birthday": f"{_pick(rng, MONTHS)} {rng.randint(1, 28)}", "decade": f"{decade}s",
        "other_decade": f"{decade + _pick(rng, (-20, -10, 10, 20))}s",
        "before": born + rng.randint(1, 6), "after": born + rng.randint(1, 6), "siblings": SIBLINGS[sib],
        "sib_true": "is not an only child" if sib else "grew up without brothers or sisters",
        "sib_false": "is an only child" if sib else "has an older brother",
        "event": _pick(rng, ["regatta", "chess olympiad", "robotics cup", "choir festival", "rowing championship"]),
        "year": rng.randint(1990, 2022), "start": start, "end": start + length - 1, "days": length,
        "month": month, "month2": month2, "teams": n_teams, "fewer_teams": n_teams - rng.randint(2, 5),
        "more_teams": n_teams - rng.randint(1, 6), "nations": rng.randint(2, 9), "edition": ORDINALS[edition - 2],
        "region": _pick(rng, REGIONS), "pop": _number(pop), "pop_up": _number((pop // 1000 + 1) * 1000),
        "pop_down": _number(pop // 1000 * 1000), "census": rng.randint(2001, 2021), "km": km,
        "km_less": km - rng.randint(2, 10),
    }


ANLI_SCENARIOS = _scenarios(
    _anli_slots,
    ("{name} (born {birthday}, {born}) is a {nat} {job} who {known}. {pron} grew up in {town} with {siblings}.",
     ("{name} was born in the {decade}.", "{name} was born before {before}.", "{name} {sib_true}.",
      "{name} spent {poss} childhood in {town}."),
     ("{name} is married.", "{name} still lives in {town}.", "{name} has won a national award.",
      "{name} speaks three languages."),
     ("{name} was born in the {other_decade}.", "{name} was born after {after}.", "{name} {sib_false}.",
      "{name} grew up in {town2}.")),
    ("The {year} {town} {event} was held from {start} to {end} {month}, with {teams} teams from {nations} countries "
     "taking part. It was the {edition} edition of the event.",
     ("The {event} lasted {days} days.", "More than {more_teams} teams took part in the {event}.",
      "The {event} had been held before {year}."),
     ("A team from {town} won the {year} {event}.", "Tickets for the {year} {event} sold out.",
      "The {event} will return to {town} next year."),
     ("Fewer than {fewer_teams} teams took part in the {event}.", "The {year} {town} {event} was held in {month2}.",
      "The {year} {event} was the first edition of the event.")),
    ("{town} is a small town in {region} {country}, with a population of {pop} at the {census} census. It lies on "
     "{river}, about {km} kilometres from the coast.",
     ("{town} had fewer than {pop_up} residents in {census}.", "{town} is in {country}.",
      "{town} lies more than {km_less} kilometres from the sea."),
     ("The population of {town} grew after {census}.", "{town} has a railway station.",
      "Most people in {town} work in farming."),
     ("{town} had fewer than {pop_down} residents in {census}.", "{town} lies on {river2}.",
      "{town} is a coastal town in {country2}.")),
)


def _wanli_slots(rng: random.Random) -> dict[str, Any]:
    p = _person(rng)
    day1, day2 = rng.sample(DAYS, 2)
    step, step2 = _pick(rng, [("clean the surface", "apply the paint"), ("read the instructions", "assemble the shelf"),
                              ("preheat the oven", "put the bread in"), ("back up your files", "install the update"),
                              ("measure the room", "buy the carpet"), ("soak the beans", "cook them"),
                              ("turn off the power", "replace the light switch")])
    return {
        "name": p["first"], "poss": p["poss"], "pron": p["pron"],
        "group": _pick(rng, ["students", "workers", "residents", "players", "volunteers", "nurses", "members"]),
        "place": _pick(rng, ["school", "factory", "village", "club", "shelter", "hospital"]),
        "vp": _pick(rng, ["speak two languages", "own a bicycle", "live nearby", "arrive before eight",
                          "bring their own lunch", "have a pet at home"]),
        "city": _pick(rng, CITIES), "year": rng.randint(1990, 2015),
        "event": _pick(rng, ["meeting", "concert", "book club", "team dinner", "parade", "school fair"]),
        "day1": day1, "day2": day2, "step": step, "step2": step2, "month": _pick(rng, MONTHS),
        "outdoor": _pick(rng, ["park", "courtyard", "garden", "town square"]),
        "kid": _pick(rng, ["son", "daughter", "nephew", "niece"]),
        "show": _pick(rng, ["school play", "piano recital", "football match", "dance show"]),
        "item": _pick(rng, ["coat", "laptop", "bicycle", "painting", "sofa", "camera"]),
    }


WANLI_SCENARIOS = _scenarios(
    _wanli_slots,
    ("Most of the {group} at the {place} {vp}.",
     ("Some of the {group} at the {place} {vp}.",),
     ("All of the {group} at the {place} {vp}.", "The {group} at the {place} like their jobs."),
     ("None of the {group} at the {place} {vp}.",)),
    ("{name} has lived in {city} since {year}.",
     ("{name} lives in {city}.", "{name} has been in {city} for years."),
     ("{name} moved to {city} for work.", "{name} likes living in {city}."),
     ("{name} has never lived in {city}.", "{name} moved away from {city} in {year}.")),
    ("The {event} was moved from {day1} to {day2}.",
     ("The {event} is no longer on {day1}.", "The {event} will take place on {day2}."),
     ("The {event} was moved because of the weather.", "Fewer people will come to the {event} on {day2}."),
     ("The {event} is still planned for {day1}.", "The date of the {event} has not changed.")),
    ("The first step is to {step}, and only then should you {step2}.",
     ("You should {step} before you {step2}.",),
     ("Most people skip the first step.", "The whole job takes about an hour."),
     ("You should {step2} before you {step}.",)),
    ("The discount is only available to {group} who sign up before {month}.",
     ("{group} who sign up late will not get the discount.",),
     ("Most {group} will sign up before {month}.", "The discount is worth twenty percent."),
     ("Anyone can get the discount at any time.",)),
    ("Unless it rains, the {event} will be held in the {outdoor}.",
     ("If it does not rain, the {event} will be in the {outdoor}.",),
     ("It will probably rain on the day of the {event}.", "The {event} was in the {outdoor} last year too."),
     ("The {event} will be held in the {outdoor} even if it rains.",)),
    ("{name} apologized for missing {poss} {kid}'s {show}.",
     ("{name} missed the {show}.",),
     ("{name} was working late that evening.", "The {show} was a success."),
     ("{name} was at the {show}.", "{name} did not miss the {show}.")),
    ("Although the {item} was expensive, {name} bought it anyway.",
     ("{name} bought the {item}.", "The {item} cost a lot."),
     ("{name} regrets buying the {item}.", "{name} bought the {item} as a gift."),
     ("{name} decided not to buy the {item}.", "The {item} was cheap.")),
)


# --------------------------------------------------------------------------------------
# Extractive QA (SQuAD v2): makers get True (answerable) or False
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fact:
    """One context sentence and the questions it answers: {slot: question forms}."""

    sentence: str
    questions: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Topic:
    """A kind of article: its slots, the fact that leads every context, the optional facts, the slot titling it."""

    slots: Callable[[random.Random], dict[str, Any]]
    lead: Fact
    facts: tuple[Fact, ...]
    title: str


def _fill_with_spans(template: str, slots: Mapping[str, Any]) -> tuple[str, dict[str, int]]:
    """Fill ``template`` and return where each slot's value starts in the filled text."""
    text, starts = "", {}
    for literal, field, _, _ in string.Formatter().parse(template):
        text += literal
        if field is not None:
            starts.setdefault(field, len(text))
            text += str(slots[field])
    return text, starts


def make_qa(first_share: float, first: Topic, second: Topic, rng: random.Random, answerable: bool) -> Example:
    """(question, context), with a title and SQuAD v2 answers. The context is the lead fact and 1-3
    optional facts; an unanswerable question asks about a fact left out of it (SQuAD v2's
    plausible-but-unanswerable questions)."""
    topic = first if rng.random() < first_share else second
    slots = topic.slots(rng)
    chosen = rng.sample(list(topic.facts), rng.randint(1, min(3, len(topic.facts) - 1)))
    missing = [f for f in topic.facts if f not in chosen]
    context, spans = "", {}
    for fact in [topic.lead, *chosen]:
        if context:
            context += " "
        text, starts = _fill_with_spans(fact.sentence, slots)
        for key, start in starts.items():
            spans.setdefault(key, len(context) + start)
        context += text
    fact = _pick(rng, [topic.lead, *chosen] if answerable else missing)
    key = _pick(rng, sorted(fact.questions))
    question = _pick(rng, fact.questions[key]).format_map(slots)
    answers = ({"text": [str(slots[key])], "answer_start": [spans[key]]} if answerable
               else {"text": [], "answer_start": []})
    return Example((question, context), extra={"title": slots[topic.title], "answers": answers})


CQ_JOBS = ["painter", "poet", "architect", "composer", "engineer", "photographer", "sculptor", "historian",
           "astronomer", "novelist"]
CQ_WORK_KINDS = {"painter": "painting", "poet": "collection", "architect": "building", "composer": "symphony",
                 "engineer": "bridge", "photographer": "series", "sculptor": "statue", "historian": "book",
                 "astronomer": "book", "novelist": "novel"}
CQ_AWARDS = ["Lorimar Medal", "Northern Arts Prize", "Order of the Silver Oak", "Ashcombe Fellowship",
             "Golden Compass Award"]
LANDMARKS = ["the Old Clock Tower", "the Salt Market", "the Harbor Lighthouse", "the Glass Museum", "the North Gate",
             "the Weavers' Hall", "the Iron Bridge"]


def _cq_person_slots(rng: random.Random) -> dict[str, Any]:
    p, spouse = _person(rng), _person(rng)
    country, _ = _pick(rng, COUNTRIES)
    job = _pick(rng, CQ_JOBS)
    born = rng.randint(1801, 1960)
    return {"name": p["name"], "Pron": _cap(p["pron"]), "Poss": _cap(p["poss"]), "poss": p["poss"], "born": born,
            "birthplace": _pick(rng, TOWNS), "country": country, "job": job, "job_art": _article(job),
            "work_kind": CQ_WORK_KINDS[job], "work": _title(rng), "work_year": born + rng.randint(22, 50),
            "spouse": spouse["name"], "married": born + rng.randint(20, 35), "spouse_town": _pick(rng, TOWNS),
            "award": _pick(rng, CQ_AWARDS), "award_year": born + rng.randint(30, 60)}


def _cq_place_slots(rng: random.Random) -> dict[str, Any]:
    country, _ = _pick(rng, COUNTRIES)
    founded = rng.randint(900, 1850)
    mayor = _person(rng)
    return {"town": _pick(rng, TOWNS), "size": _pick(rng, ["town", "city", "market town", "port city"]),
            "region": _pick(rng, REGIONS), "country": country, "river": _pick(rng, RIVERS), "founded": founded,
            "origin": _pick(rng, ["trading post", "fishing village", "river crossing", "mining camp"]),
            "census": rng.randint(2001, 2021), "population": _number(rng.randint(2500, 260000)),
            "landmark": _pick(rng, LANDMARKS), "landmark_year": founded + rng.randint(50, 400),
            "mayor": mayor["name"], "mayor_year": rng.randint(2005, 2022)}


CQ_PERSON = Topic(_cq_person_slots, Fact("{name} was born in {birthplace}, {country}, in {born}.", {
    "born": ("When was {name} born?", "In what year was {name} born?"),
    "birthplace": ("Where was {name} born?", "In which town was {name} born?"),
    "country": ("In which country was {name} born?",)}), (
    Fact("{Pron} worked as {job_art} {job} for most of {poss} life.", {
        "job": ("What was {name}'s profession?", "What did {name} do for a living?")}),
    Fact("{Poss} best-known work is the {work_kind} {work}, completed in {work_year}.", {
        "work": ("What is {name}'s best-known work?", "Which work is {name} remembered for?"),
        "work_year": ("When was {work} completed?", "In what year did {name} finish {work}?")}),
    Fact("In {married}, {name} married {spouse}, who came from {spouse_town}.", {
        "spouse": ("Who did {name} marry?", "Who was {name}'s spouse?"),
        "married": ("When did {name} get married?",)}),
    Fact("{Pron} received the {award} in {award_year}.", {
        "award": ("Which award did {name} receive?", "What prize was {name} given?"),
        "award_year": ("When did {name} receive the {award}?",)}),
), "name")
CQ_PLACE = Topic(_cq_place_slots, Fact("{town} is a {size} in {region} {country}, on the banks of {river}.", {
    "river": ("Which river does {town} lie on?", "On which river is {town} located?"),
    "country": ("In which country is {town}?", "What country is {town} in?")}), (
    Fact("It was founded in {founded} as a {origin}.", {
        "founded": ("When was {town} founded?", "In what year was {town} founded?"),
        "origin": ("What was {town} when it was founded?",)}),
    Fact("At the {census} census it had a population of {population}.", {
        "population": ("What was the population of {town} in {census}?",
                       "How many people lived in {town} at the {census} census?")}),
    Fact("Its best-known landmark is {landmark}, built in {landmark_year}.", {
        "landmark": ("What is the best-known landmark in {town}?", "Which landmark is {town} famous for?"),
        "landmark_year": ("When was {landmark} in {town} built?",)}),
    Fact("Since {mayor_year}, the town has been led by mayor {mayor}.", {
        "mayor": ("Who is the mayor of {town}?", "Who has led {town} since {mayor_year}?")}),
), "town")

COMQA_INDUSTRIES = {  # company -> (industry, product noun, product names)
    "Brightloom": ("lighting", "desk lamp", ("Halo", "Glow Mini", "Beam Pro")),
    "Nordwave": ("telecom", "router", ("Wave 5", "Mesh One", "Surf X")),
    "Keystone Robotics": ("robotics", "vacuum robot", ("Sweep 2", "Dusty", "Clean Max")),
    "Larkspur Foods": ("food", "oat drink", ("Morning Oat", "Oat Barista", "Oat Lite")),
    "Orbitra": ("satellite", "navigation device", ("Orbit Go", "Trail 3", "Compass S")),
    "Copperleaf Games": ("video game", "game", ("Emberfall", "Tiny Kingdoms", "Star Courier")),
    "Halcyon Motors": ("car", "electric hatchback", ("Breeze", "Halcyon E2", "Volta")),
    "Quillon Software": ("software", "note-taking app", ("Quill Notes", "Inkpad", "Folio")),
    "Meridian Optics": ("optics", "camera lens", ("Prime 35", "Zoom 70", "Macro 50")),
    "Fernway Bikes": ("bicycle", "folding bike", ("Fern Fold", "City Hopper", "Trailfern")),
    "Solace Audio": ("audio", "wireless headphone", ("Calm One", "Studio Q", "Quiet Pods")),
}
COMQA_EVENTS = ["Harbor Lights Festival", "Northern Code Summit", "Riverside Jazz Week", "Open Fields Fair",
                "Silver Screen Days", "Green Roof Expo", "Lantern Book Fair", "Coastal Robotics Cup"]
COMQA_ORGANIZERS = ["the city council", "a local volunteer group", "the chamber of commerce",
                    "the regional arts board", "a student society"]


def _comqa_company_slots(rng: random.Random) -> dict[str, Any]:
    company = _pick(rng, sorted(COMQA_INDUSTRIES))
    industry, noun, products = COMQA_INDUSTRIES[company]
    founded = rng.randint(1950, 2015)
    return {"company": company, "industry": industry, "noun": noun, "industry_art": _article(industry),
            "noun_art": _article(noun), "product": f"{company.split()[0]} {_pick(rng, products)}",
            "founded": founded, "founder": _person(rng)["name"], "hq": _pick(rng, CITIES),
            "ceo": _person(rng)["name"], "ceo_year": founded + rng.randint(3, 12),
            "launch": founded + rng.randint(1, 10), "price": f"${rng.randint(19, 999)}",
            "staff": _number(rng.randrange(40, 25000, 10))}


def _comqa_event_slots(rng: random.Random) -> dict[str, Any]:
    first = rng.randint(1960, 2012)
    year = first + rng.randint(5, 12)
    return {"event": _pick(rng, COMQA_EVENTS), "city": _pick(rng, CITIES), "month": _pick(rng, MONTHS),
            "first": first, "organizer": _pick(rng, COMQA_ORGANIZERS), "year": year,
            "visitors": _number(rng.randrange(1500, 90000, 100)), "opener": _person(rng)["name"],
            "days": _pick(rng, ["two", "three", "four", "five"])}


# ComQA's questions are lower-case, as typed into a search box.
COMQA_COMPANY = Topic(_comqa_company_slots, Fact(
    "{company} is {industry_art} {industry} company founded in {founded} by {founder}.", {
        "founder": ("who founded {company}?", "who started {company}?"),
        "founded": ("when was {company} founded?", "what year did {company} start?")}), (
    Fact("The company is headquartered in {hq} and employs about {staff} people.", {
        "hq": ("where is {company} headquartered?", "where is {company} based?"),
        "staff": ("how many people work at {company}?",)}),
    Fact("Its chief executive, {ceo}, took over in {ceo_year}.", {
        "ceo": ("who is the ceo of {company}?", "who runs {company}?")}),
    Fact("It is best known for the {product}, {noun_art} {noun} launched in {launch} at {price}.", {
        "product": ("what is {company} best known for?", "what is {company}'s most famous product?"),
        "launch": ("when did the {product} come out?", "what year was the {product} released?"),
        "price": ("how much did the {product} cost at launch?",)}),
), "company")
COMQA_EVENT = Topic(_comqa_event_slots, Fact("The {event} is held in {city} every {month} and lasts {days} days.", {
    "city": ("where is the {event} held?", "which city hosts the {event}?"),
    "month": ("what month is the {event}?", "when does the {event} take place?")}), (
    Fact("It was first organized in {first} by {organizer}.", {
        "first": ("when was the first {event}?", "when did the {event} start?"),
        "organizer": ("who organizes the {event}?",)}),
    Fact("In {year}, about {visitors} people attended, a record for the event.", {
        "visitors": ("how many people went to the {event} in {year}?",
                     "how many visitors did the {event} have in {year}?")}),
    Fact("The {year} edition was opened by {opener}.", {
        "opener": ("who opened the {event} in {year}?",)}),
), "event")


# --------------------------------------------------------------------------------------
# The sample sets: what the registry does not say about them
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    """How one registry dataset's sample set is made.

    make(rng, cls) is asked for each class in turn (cycled, then shuffled, so every split is
    balanced): by default the registry's label names; ``classes`` replaces them where the set
    has none (STS-B's similarity levels, QA's answerable or not). ``sizes`` = examples in the
    training split and in every other split the registry names. ``id_field`` is a hub id field
    placed before the inputs, filled with ``id_kind`` "hex" (24 hex digits) or "index" (counting
    over all splits), or by the maker where no kind is given.
    """

    make: Callable[[random.Random, Any], Example]
    sizes: tuple[int, int]
    about: str  # the README's "mimics" column
    id_field: str | None = None
    id_kind: str = ""
    classes: tuple[Any, ...] = ()
    label_as_name: bool = False  # the hub stores the label as its name, not its index


QA_CLASSES = (True,) * 17 + (False,) * 3  # 15% unanswerable
SQUAD_FIELDS = ("id", "title", "context", "question", "answers")  # a QA row, in SQuAD v2's order
IDX_HUBS = ("nyu-mll/glue", "aps/super_glue")  # their rows end with "idx", counting from 0 in each split

SAMPLES: dict[str, Sample] = {
    "sst2": Sample(make_sst2, (240, 60), "GLUE SST-2: short lower-cased movie-review phrases"),
    "rotten_tomatoes": Sample(make_rotten_tomatoes, (240, 60), "Rotten Tomatoes movie-review snippets"),
    "imdb": Sample(make_imdb, (240, 60), "IMDB reviews of 2-3 sentences (no validation split, as on the hub)"),
    "financial_phrasebank": Sample(make_financial_phrasebank, (240, 60),
                                   "Financial PhraseBank news sentences (train only, as on the hub)"),
    "mrpc": Sample(make_mrpc, (240, 60), "GLUE MRPC: news sentence pairs"),
    "qqp": Sample(make_qqp, (240, 60), "GLUE QQP: question pairs"),
    "medical_questions_pairs": Sample(
        make_medical_questions_pairs, (200, 60),
        "medical question pairs; a negative shares the condition or drug (train only)", id_field="dr_id"),
    "stsb": Sample(make_stsb, (240, 60), "GLUE STS-B: caption pairs at six similarity levels", classes=STS_LEVELS),
    "rte": Sample(partial(make_nli, RTE_SCENARIOS), (240, 60), "GLUE RTE: news premises, short hypotheses"),
    "snli": Sample(partial(make_nli, SNLI_SCENARIOS), (240, 60), "SNLI: image-caption premises"),
    "mnli": Sample(partial(make_nli, MNLI_SCENARIOS), (240, 60),
                   "GLUE MNLI: travel, government, telephone, fiction and opinion premises"),
    "cb": Sample(make_cb, (120, 60),
                 "SuperGLUE CommitmentBank: embedded clauses under factive/non-factive verbs"),
    "anli": Sample(partial(make_nli, ANLI_SCENARIOS), (240, 60),
                   "ANLI round 3: biographies, events and towns with numeric reasoning", id_field="uid", id_kind="hex"),
    "wanli": Sample(partial(make_nli, WANLI_SCENARIOS), (240, 60),
                    "WANLI: short everyday premises with quantifiers, conditions and time", id_field="id",
                    id_kind="index", label_as_name=True),
    "cq": Sample(partial(make_qa, 0.5, CQ_PERSON, CQ_PLACE), (200, 50),
                 "ComplexQuestions-like extractive QA about people and places", id_field="id", id_kind="hex",
                 classes=QA_CLASSES),
    "comqa": Sample(partial(make_qa, 0.55, COMQA_COMPANY, COMQA_EVENT), (200, 50),
                    "ComQA-like extractive QA about companies, products and events (lower-case questions)",
                    id_field="id", id_kind="hex", classes=QA_CLASSES),
}


def split_sizes(spec: DatasetSpec, sample: Sample) -> dict[str, int]:
    """The registry's training, dev and LLM evaluation splits (those it names) -> examples in each."""
    names = dict.fromkeys(s for s in (spec.train_split, spec.dev_split, spec.llm_eval_split) if s)
    train, other = sample.sizes
    return {name: train if name == spec.train_split else other for name in names}


def row_fields(spec: DatasetSpec, sample: Sample) -> tuple[str, ...]:
    """The fields of a row, in the hub's order."""
    if spec.task == "qa":
        return SQUAD_FIELDS
    ids = (sample.id_field,) if sample.id_field else ()
    return (*ids, *spec.inputs, spec.label_field, *(("idx",) if spec.hub_id in IDX_HUBS else ()))


def generate_set(name: str, seed: int) -> dict[str, list[Row]]:
    """All splits of one sample set, its classes balanced in every split, no input texts repeated."""
    spec, sample = DATASETS[name], SAMPLES[name]
    classes = sample.classes or spec.labels
    fields = row_fields(spec, sample)
    rng = random.Random(f"{seed}/{name}")
    seen: set[tuple[str, ...]] = set()
    splits: dict[str, list[Row]] = {}
    count = 0  # examples made so far, over all splits
    for split, size in split_sizes(spec, sample).items():
        wanted = [classes[i % len(classes)] for i in range(size)]
        rng.shuffle(wanted)
        rows = []
        for cls in wanted:
            for _ in range(MAX_TRIES):
                example = sample.make(rng, cls)
                if example.texts not in seen:
                    break
            else:
                raise RuntimeError(f"{name}: templates too few for {size} unique examples")
            seen.add(example.texts)
            row = {**example.extra, **dict(zip(spec.inputs, example.texts, strict=True))}
            if spec.task == "cr":  # as the hub stores it: the index of the label's name in the registry, or the name
                row[spec.label_field] = (example.label if example.label is not None
                                         else cls if sample.label_as_name else spec.labels.index(cls))
            if sample.id_kind == "hex":
                row[sample.id_field] = _hex_id(rng)
            elif sample.id_kind == "index":
                row[sample.id_field] = count
            if "idx" in fields:
                row["idx"] = len(rows)
            count += 1
            rows.append({f: row[f] for f in fields})
        splits[split] = rows
    return splits


# --------------------------------------------------------------------------------------
# Unsupervised pool U (texts of kinds the labelled sets do not contain)
# --------------------------------------------------------------------------------------

POOL_SLOTS = {
    "dish": ["ramen", "pizza", "curry", "pancakes", "fish tacos", "lentil soup", "dumplings"],
    "venue": ["the corner bistro", "Luigi's", "the hotel restaurant", "the new food truck", "the station cafe"],
    "app": ["the banking app", "this budgeting app", "the new photo editor", "the weather app", "this language app"],
    "gadget": ["these earbuds", "the blender", "this backpack", "the office chair", "this phone case",
               "the electric kettle"],
    "good": ["excellent", "friendly", "spotless", "reliable", "fantastic", "fast"],
    "bad": ["rude", "cold", "greasy", "buggy", "flimsy", "slow"],
    "item": ["milk", "batteries", "a birthday card", "stamps", "dog food", "light bulbs"],
    "chore": ["water the plants", "take out the recycling", "call the plumber", "return the library books",
              "pay the electricity bill"],
    "team": ["Northport City", "Riverside United", "the Valley Foxes", "Lakeside Athletic"],
    "topic": ["interest rates", "school funding", "a new rail line", "water prices", "the fishing quota"],
}
POOL_TEXTS = {  # single-text sources: templates
    "sentiment": ["The {dish} at {venue} was {good}, and the staff were {good} too.",
                  "The {dish} at {venue} was {bad} and the waiter was {bad}.",
                  "I have used {app} for a month and it is {good}.", "{app} keeps crashing; honestly it is {bad}.",
                  "Returned {gadget} after a week because they felt {bad}.",
                  "Really happy with {gadget}, {good} and worth the price.",
                  "Our stay at the hotel in {city} was {good} from start to end.",
                  "The room in {city} was {bad} and the shower barely worked."],
    "news": ["{country} and {country2} signed a trade agreement on {day}, officials said.",
             "The central bank of {country} kept its main rate at {pct} percent.",
             "Heavy rain closed {n} schools across {town} on {day}.",
             "{team} beat their rivals {a}-{b} on {day} in front of a full stadium.",
             "Lawmakers in {city} will vote in {month} on {topic}.",
             "{co} said it will open a new office in {city} next year.",
             "Train services between {city} and {city2} resumed on {day} after repairs."],
    "everyday": ["I need to buy {item} before the shop closes.", "Can you remind me to {chore} tomorrow?",
                 "The bus was {n} minutes late again this morning.", "We are having {dish} for dinner tonight.",
                 "{name} said the meeting starts at {time} on {day}.", "Don't forget to {chore} before {day}.",
                 "My neighbor {name} lent me a ladder for the weekend."],
}
POOL_PAIRS = {  # pair sources: (text, the text_pair, or candidates of which one is drawn)
    "paraphrase": [
        ("The meeting starts at {time}.", ("We begin the meeting at {time}.", "The meeting was cancelled.")),
        ("{name} moved to {city} last year.",
         ("Last year {name} relocated to {city}.", "{name} visited {city2} last year.")),
        ("The library closes early on {day}.",
         ("On {day} the library shuts early.", "The library is open late on {day}.")),
        ("{name} forgot to {chore}.", ("{name} did not remember to {chore}.", "{name2} remembered to {chore}.")),
        ("Prices of {item} went up again.",
         ("{item} became more expensive again.", "{item} is cheaper than last month.")),
    ],
    "nli": [
        ("A dog is chasing a red ball across a muddy yard.",
         ("An animal is playing outside.", "The dog is asleep.", "The dog belongs to a child.")),
        ("Two cooks are chopping vegetables in a busy kitchen.",
         ("People are preparing food.", "The kitchen is empty.", "The cooks work at a hotel.")),
        ("{name} is fixing a flat tire on the side of the road.",
         ("{name} is repairing a tire.", "{name} is driving on a highway.", "{name} is late for work.")),
        ("A crowd is waiting outside the stadium in {city} before the match.",
         ("People are gathered outside.", "The stadium is deserted.", "The match will be sold out.")),
        ("A nurse in {town} is checking a patient's blood pressure.",
         ("Someone's blood pressure is being measured.", "The nurse is on holiday.", "The patient is feeling dizzy.")),
    ],
    "question": [  # a question and a short passage that may or may not answer it
        ("When did {full} open the bakery in {town}?",
         "{full} opened a small bakery in {town} in {year}, selling rye bread and pastries."),
        ("How many schools closed in {town}?", "Officials in {town} closed {n} schools on {day} because of flooding."),
        ("Who won the match on {day}?", "{team} won {a}-{b} on {day}, their third win in a row."),
        ("What does {co} plan to open in {city}?",
         "{co} announced plans for a research office in {city}, hiring {n} engineers."),
        ("Where does {name} work?", "{name} has worked at the public library in {city} since {year}."),
    ],
}
POOL_SOURCES = ("sentiment", "paraphrase", "nli", "question", "news", "everyday")


def _pool_row(rng: random.Random, source: str) -> Row:
    s = {k: _pick(rng, v) for k, v in POOL_SLOTS.items()}
    p, q = _person(rng), _person(rng)
    city, city2 = rng.sample(CITIES, 2)
    (country, _), (country2, _) = rng.sample(COUNTRIES, 2)
    s.update(name=p["first"], name2=q["first"], full=p["name"], city=city, city2=city2, country=country,
             country2=country2, town=_pick(rng, TOWNS), day=_pick(rng, DAYS), month=_pick(rng, MONTHS),
             n=rng.randint(2, 60), pct=round(rng.uniform(0.5, 9.5), 1),
             time=f"{rng.randint(7, 11)}:{_pick(rng, ['00', '15', '30', '45'])}", a=rng.randint(0, 4),
             b=rng.randint(0, 4), co=_pick(rng, COMPANIES), year=rng.randint(1950, 2020))
    if source in POOL_TEXTS:
        return {"text": _cap(_fill(_pick(rng, POOL_TEXTS[source]), s)), "source": source}
    text, pair = _pick(rng, POOL_PAIRS[source])
    if not isinstance(pair, str):
        pair = _pick(rng, pair)
    return {"text": _cap(_fill(text, s)), "text_pair": _cap(_fill(pair, s)), "source": source}


def generate_pool(seed: int, exclude: set[str]) -> list[Row]:
    """POOL_PER_SOURCE rows per source, shuffled; no text equal to any labelled-set text."""
    rng = random.Random(f"{seed}/unsup_pool")
    seen = set(exclude)
    rows = []
    for source in POOL_SOURCES:
        for _ in range(POOL_PER_SOURCE):
            for _ in range(MAX_TRIES):
                row = _pool_row(rng, source)
                key = row["text"] + "\n" + row.get("text_pair", "")
                if row["text"] not in exclude and key not in seen:
                    break
            else:
                raise RuntimeError(f"unsup_pool: templates too few for source {source}")
            seen.add(key)
            rows.append(row)
    rng.shuffle(rows)
    return rows


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------

def _jsonl(rows: Sequence[Row]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _labels_note(spec: DatasetSpec, sample: Sample) -> str:
    """The README's "labels" column, from the registry's label names."""
    if spec.task == "qa":
        return "SQuAD v2 answers; about 15% unanswerable (empty lists)"
    if spec.regression:
        return "float similarity 0.0-5.0"
    if sample.label_as_name:
        return f"{spec.label_field} is the string " + " / ".join(f'"{label}"' for label in spec.labels)
    note = ", ".join(f"{i} {label}" for i, label in enumerate(spec.labels))
    if spec.llm_genre and spec.labels != GENRE_LABELS[spec.llm_genre]:
        note += " (the hub's order)"  # differs from the order the LLM genre uses
    return note


def _readme(seed: int) -> str:
    lines = [
        "# Sample datasets",
        "",
        "Small, synthetic stand-ins for hub datasets, used by the tests and the CPU demo",
        "(the hub cannot be reached offline). Each set has the hub dataset's name, split",
        "names, field names and label encoding; the text is template-based English with",
        "fictional people, companies and towns. Labels are balanced in every split and no",
        "text is repeated across splits.",
        "",
        "**Generated, do not edit by hand.** Regenerate with",
        f"`python scripts/make_sample_data.py` (standard library only, seed {seed});",
        "tests/test_sample_data.py checks that this reproduces the files byte for byte.",
        "",
        "**Licence:** written for this project and dedicated to the public domain (CC0 1.0).",
        "",
        "Layout: `<name>/<split>.jsonl`, one JSON object per line, UTF-8.",
        "",
        "| name | splits (examples) | fields | labels | mimics |",
        "|---|---|---|---|---|",
    ]
    for name, sample in SAMPLES.items():
        spec = DATASETS[name]
        splits = ", ".join(f"{k} {v}" for k, v in split_sizes(spec, sample).items())
        fields = ", ".join(f"`{f}`" for f in row_fields(spec, sample))
        lines.append(f"| `{name}` | {splits} | {fields} | {_labels_note(spec, sample)} | {sample.about} |")
    lines += [
        "",
        "QA sets follow SQuAD v2: `answers = {\"text\": [...], \"answer_start\": [...]}`, where",
        "`answer_start` is a character offset into `context`; unanswerable questions have",
        "empty lists and ask about a fact the context leaves out.",
        "",
        "Texts have at most 40 words (premises, `rte` sentence1 and QA contexts at most 60).",
        "",
        "Kept from the hub on purpose: `sst2` sentences are lower-cased, tokenised and end with",
        "a space; `rotten_tomatoes`, `mrpc` and `financial_phrasebank` put spaces before",
        "punctuation; GLUE/SuperGLUE `idx` counts from 0 in every split. Left out: the hub's",
        "`imdb` unsupervised split, `anli`'s `reason` and `wanli`'s `genre` and `pairID` fields.",
        "Paraphrase negatives are near misses (one or two facts or the intent changed), so a",
        "model has to compare the two texts; a bag of words of one text does not suffice.",
        "",
        "## Unsupervised pool",
        "",
        f"`unsup_pool.jsonl`: {POOL_PER_SOURCE * len(POOL_SOURCES)} unlabelled lines,",
        '`{"text": ..., "source": ...}`, plus `"text_pair"` for the pair sources',
        f"(sources: {', '.join(POOL_SOURCES)}; {POOL_PER_SOURCE} each, shuffled; "
        "paraphrase, nli and question have pairs). It stands in for",
        "the pool U of inputs x' that FUTE feeds to a model to get its outputs y'. Its texts",
        "(restaurant, app and product reviews, everyday remarks, news briefs, and pairs of",
        "other kinds) do not occur in the labelled sets above.",
        "",
    ]
    return "\n".join(lines)


def write_samples(out_dir: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Generate every sample set, the pool and the README under ``out_dir``; return the paths."""
    written = []
    all_texts: set[str] = set()
    for name in SAMPLES:
        for split, rows in generate_set(name, seed).items():
            path = out_dir / name / f"{split}.jsonl"
            _write_atomic(path, _jsonl(rows))
            written.append(path)
            all_texts.update(str(r[f]) for r in rows for f in DATASETS[name].inputs)
    pool_path = out_dir / "unsup_pool.jsonl"
    _write_atomic(pool_path, _jsonl(generate_pool(seed, all_texts)))
    readme_path = out_dir / "README.md"
    _write_atomic(readme_path, _readme(seed))
    return [*written, pool_path, readme_path]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out_dir", type=Path, default=DEFAULT_OUT_DIR,
                        help="folder to (re)write the sample sets into (default: data/samples)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="generator seed; the committed files use the default, 42")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    paths = write_samples(args.out_dir, args.seed)
    size = sum(p.stat().st_size for p in paths)
    logger.info("wrote %d files (%.1f KB) under %s", len(paths), size / 1024, args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
