"""The YAML files of this folder, and the slots that sample texts draw from their word lists.

``<set>.yaml`` holds one sample set's words and templates, ``shared.yaml`` the fictional
people, places and companies several sets draw on (fictional, so that no sample states a
false fact about a real one) and ``movie_reviews.yaml`` the words of the three movie-review
sets. In a set's ``words``, a key names the slot its list fills (or, where several slots
draw from it, the list), and a string value names a list of shared.yaml.

A ``*_slots(rng, w)`` function (``w``: the set's ``words``) draws one text's slots in a fixed
order: reordering its draws changes every later example of the set, so new slots go last.
"""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from data_utils.errors import FuteError

DATA_DIR = Path(__file__).resolve().parent


def _read(name: str) -> dict[str, Any]:
    return yaml.safe_load((DATA_DIR / f"{name}.yaml").read_text(encoding="utf-8"))


SHARED = _read("shared")
REVIEWS = _read("movie_reviews")


def load(name: str) -> dict[str, Any]:
    """``<name>.yaml`` of this folder, each ``words`` entry that names a shared list replaced by it."""
    data = _read(name)
    words = data.get("words", {})
    unknown = {k: v for k, v in words.items() if isinstance(v, str) and v not in SHARED}
    if unknown:
        raise FuteError(f"{DATA_DIR / name}.yaml: words {unknown} name no list of shared.yaml; "
                        f"it has {', '.join(SHARED)}")
    data["words"] = {k: SHARED[v] if isinstance(v, str) else v for k, v in words.items()}
    return data


_ARTICLE_RE = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])")


def article(word: str) -> str:
    """'an' before a vowel sound we use in the word lists, else 'a'."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def fill(template: str, slots: Mapping[str, Any]) -> str:
    """Fill a ``str.format`` template and fix 'a' -> 'an' before vowels."""
    return _ARTICLE_RE.sub(r"\1n ", template.format_map(slots))


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def pick(rng: random.Random, seq: Sequence[Any]) -> Any:
    return seq[rng.randrange(len(seq))]


def picks(rng: random.Random, words: Mapping[str, Sequence[Any]], slots: str) -> dict[str, Any]:
    """One word from each list ``words[slot]``, for the space-separated ``slots`` in that order."""
    return {slot: pick(rng, words[slot]) for slot in slots.split()}


def number(n: int) -> str:
    """12480 -> '12,480'."""
    return f"{n:,}"


def person(rng: random.Random) -> dict[str, str]:
    """A fictional person: name, first, and the pronoun forms pron, obj, poss."""
    first, pron = pick(rng, SHARED["first_names"])
    subj, obj, poss = SHARED["pronouns"][pron]
    return {"name": f"{first} {pick(rng, SHARED['last_names'])}", "first": first, "pron": subj, "obj": obj,
            "poss": poss}


def title(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"The {pick(rng, SHARED['title_adjectives'])} {pick(rng, SHARED['title_nouns'])}"
    return f"{pick(rng, SHARED['title_nouns'])} of {pick(rng, SHARED['towns'])}"


def review_slots(rng: random.Random, label: str) -> dict[str, Any]:
    """Slots shared by the movie-review sets; 'adj', 'vp' etc. carry the polarity ``label``."""
    polar, pos, neg = REVIEWS[label], REVIEWS["positive"], REVIEWS["negative"]
    adj1, adj2, adj3 = rng.sample(polar["adj"], 3)
    aspect, aspect2 = rng.sample(REVIEWS["aspects"], 2)
    return {"adj": adj1, "adj2": adj2, "adj3": adj3, "vp": pick(rng, polar["vp"]),
            "pos_adj": pick(rng, pos["adj"]), "neg_adj": pick(rng, neg["adj"]), "pos_vp": pick(rng, pos["vp"]),
            "neg_vp": pick(rng, neg["vp"]), "noun": pick(rng, REVIEWS["nouns"]), "aspect": aspect,
            "aspect2": aspect2, "intens": pick(rng, REVIEWS["intensifiers"]), "name": person(rng)["name"],
            "actor": person(rng)["name"], "title": title(rng), "role": pick(rng, REVIEWS["roles"]),
            "verdict": pick(rng, polar["verdict"]), "feeling": pick(rng, polar["feeling"])}


def news_slots(rng: random.Random, w: Mapping[str, Any]) -> dict[str, Any]:
    co, co2 = rng.sample(SHARED["companies"], 2)
    name, y = person(rng)["name"], rng.randint(12, 400)
    return {"co": co, "co2": co2, "person": name, **picks(rng, w, "day city quarter"), "y": y,
            "x": y + rng.randint(5, 150), "n": rng.randint(12, 240), "p": rng.randint(3, 62),
            "price": f"{rng.uniform(4, 95):.2f}", "official": f"{pick(rng, w['office'])} {name}",
            **picks(rng, w, "org policy journal finding race storm region"),
            "homes": rng.randrange(2000, 90000, 500), "years": rng.randint(2, 25),
            "adults": number(rng.randrange(800, 60000, 100)), "crime": pick(rng, w["crime"]),
            "bn": round(rng.uniform(1.2, 19.5), 1), **picks(rng, w, "probe month"),
            "year": rng.randint(2025, 2031), "building": pick(rng, w["building"])}


def snli_slots(rng: random.Random, w: Mapping[str, Any]) -> dict[str, Any]:
    noun, general = pick(rng, w["people"])
    act = pick(rng, w["acts"])
    return {"noun": noun, "general": general, "attr": pick(rng, w["attr"]), "act": act["act"],
            "place": pick(rng, act["places"]), "gen": pick(rng, act["entailed"]),
            "contra": pick(rng, act["incompatible"]), **picks(rng, w, "mod fact")}


def mnli_slots(rng: random.Random, w: Mapping[str, Any]) -> dict[str, Any]:
    p = person(rng)
    return {"name": p["first"], "pron": p["pron"], "poss": p["poss"],
            **picks(rng, w, "town site century season agency program"), "pct": rng.randint(10, 45),
            **picks(rng, w, "activity hard hall work hour month island shops staff kid"),
            "school": f"{pick(rng, w['town'])} {pick(rng, w['school_kind'])}"}


def rte_slots(rng: random.Random, w: Mapping[str, Any]) -> dict[str, Any]:
    p, p2 = person(rng), person(rng)
    co, co2 = rng.sample(SHARED["companies"], 2)
    city, city2 = rng.sample(SHARED["cities"], 2)
    (country, _), (country2, _) = rng.sample(SHARED["countries"], 2)
    region, region2 = rng.sample(SHARED["areas"], 2)
    team, team2 = rng.sample(w["teams"], 2)
    return {"name": p["name"], "name2": p2["name"], "co": co, "co2": co2, "city": city, "city2": city2,
            "country": country, "country2": country2, "region": region, "region2": region2, "team": team,
            "team2": team2, "day": pick(rng, SHARED["days"]), "bn": round(rng.uniform(1.5, 30.0), 1),
            **picks(rng, w, "town thing age org small disaster"), "deaths": rng.randint(3, 80),
            "title": title(rng), "prize": pick(rng, w["prize"]), "year": rng.randint(1995, 2023),
            "books": rng.randint(3, 9), "s1": rng.randint(2, 4), "s2": rng.randint(0, 1), "cup": pick(rng, w["cup"]),
            "gap": rng.randint(8, 40), "ban": pick(rng, w["ban"])}


def anli_slots(rng: random.Random, w: Mapping[str, Any]) -> dict[str, Any]:
    p = person(rng)
    town, town2 = rng.sample(SHARED["towns"], 2)
    (country, nat), (country2, _) = rng.sample(SHARED["countries"], 2)
    river, river2 = rng.sample(SHARED["rivers"], 2)
    job, known = pick(rng, w["jobs"])
    born = rng.randint(1931, 1994)
    decade = born // 10 * 10
    siblings, sib_true, sib_false = pick(rng, w["siblings"])
    teams, start, days = rng.randint(8, 30), rng.randint(1, 20), rng.randint(2, 8)
    month, month2 = rng.sample(SHARED["months"], 2)
    pop, km, edition = rng.randint(1200, 48000), rng.randint(12, 140), pick(rng, w["edition"])
    return {"name": p["name"], "pron": cap(p["pron"]), "poss": p["poss"], "job": job,
            "known": known.format(city=pick(rng, SHARED["cities"])), "nat": nat, "country": country,
            "country2": country2, "town": town, "town2": town2, "river": river, "river2": river2, "born": born,
            "birthday": f"{pick(rng, SHARED['months'])} {rng.randint(1, 28)}", "decade": f"{decade}s",
            "other_decade": f"{decade + pick(rng, (-20, -10, 10, 20))}s", "before": born + rng.randint(1, 6),
            "after": born + rng.randint(1, 6), "siblings": siblings, "sib_true": sib_true, "sib_false": sib_false,
            "event": pick(rng, w["event"]), "year": rng.randint(1990, 2022), "start": start, "end": start + days - 1,
            "days": days, "month": month, "month2": month2, "teams": teams, "fewer_teams": teams - rng.randint(2, 5),
            "more_teams": teams - rng.randint(1, 6), "nations": rng.randint(2, 9), "edition": edition,
            "region": pick(rng, SHARED["regions"]), "pop": number(pop),
            "pop_up": number((pop // 1000 + 1) * 1000), "pop_down": number(pop // 1000 * 1000),
            "census": rng.randint(2001, 2021), "km": km, "km_less": km - rng.randint(2, 10)}


def wanli_slots(rng: random.Random, w: Mapping[str, Any]) -> dict[str, Any]:
    p = person(rng)
    day1, day2 = rng.sample(SHARED["days"], 2)
    step, step2 = pick(rng, w["steps"])
    return {"name": p["first"], "poss": p["poss"], "pron": p["pron"], **picks(rng, w, "group place vp city"),
            "year": rng.randint(1990, 2015), "event": pick(rng, w["event"]), "day1": day1, "day2": day2,
            "step": step, "step2": step2, **picks(rng, w, "month outdoor kid show item")}


def cq_person_slots(rng: random.Random, w: Mapping[str, Any]) -> dict[str, Any]:
    p, spouse = person(rng), person(rng)
    country, _ = pick(rng, SHARED["countries"])
    job, work_kind = pick(rng, w["jobs"])
    born = rng.randint(1801, 1960)
    return {"name": p["name"], "Pron": cap(p["pron"]), "Poss": cap(p["poss"]), "poss": p["poss"], "born": born,
            "birthplace": pick(rng, SHARED["towns"]), "country": country, "job": job, "job_art": article(job),
            "work_kind": work_kind, "work": title(rng), "work_year": born + rng.randint(22, 50),
            "spouse": spouse["name"], "married": born + rng.randint(20, 35),
            "spouse_town": pick(rng, SHARED["towns"]), "award": pick(rng, w["award"]),
            "award_year": born + rng.randint(30, 60)}


def cq_place_slots(rng: random.Random, w: Mapping[str, Any]) -> dict[str, Any]:
    country, _ = pick(rng, SHARED["countries"])
    founded = rng.randint(900, 1850)
    mayor = person(rng)
    return {**picks(rng, w, "town size region"), "country": country, "river": pick(rng, SHARED["rivers"]),
            "founded": founded, "origin": pick(rng, w["origin"]), "census": rng.randint(2001, 2021),
            "population": number(rng.randint(2500, 260000)), "landmark": pick(rng, w["landmark"]),
            "landmark_year": founded + rng.randint(50, 400), "mayor": mayor["name"],
            "mayor_year": rng.randint(2005, 2022)}


def comqa_company_slots(rng: random.Random, w: Mapping[str, Any]) -> dict[str, Any]:
    company, industry, noun, products = pick(rng, w["companies"])
    founded = rng.randint(1950, 2015)
    return {"company": company, "industry": industry, "noun": noun, "industry_art": article(industry),
            "noun_art": article(noun), "product": f"{company.split()[0]} {pick(rng, products)}",
            "founded": founded, "founder": person(rng)["name"], "hq": pick(rng, SHARED["cities"]),
            "ceo": person(rng)["name"], "ceo_year": founded + rng.randint(3, 12),
            "launch": founded + rng.randint(1, 10), "price": f"${rng.randint(19, 999)}",
            "staff": number(rng.randrange(40, 25000, 10))}


def comqa_event_slots(rng: random.Random, w: Mapping[str, Any]) -> dict[str, Any]:
    first = rng.randint(1960, 2012)
    year = first + rng.randint(5, 12)
    return {**picks(rng, w, "event city month"), "first": first, "organizer": pick(rng, w["organizer"]),
            "year": year, "visitors": number(rng.randrange(1500, 90000, 100)), "opener": person(rng)["name"],
            "days": pick(rng, w["days"])}


def pool_slots(rng: random.Random, w: Mapping[str, Any]) -> dict[str, Any]:
    s = picks(rng, w, " ".join(w))
    p, q = person(rng), person(rng)
    city, city2 = rng.sample(SHARED["cities"], 2)
    (country, _), (country2, _) = rng.sample(SHARED["countries"], 2)
    return s | {"name": p["first"], "name2": q["first"], "full": p["name"], "city": city, "city2": city2,
                "country": country, "country2": country2, "town": pick(rng, SHARED["towns"]),
                "day": pick(rng, SHARED["days"]), "month": pick(rng, SHARED["months"]), "n": rng.randint(2, 60),
                "pct": round(rng.uniform(0.5, 9.5), 1),
                "time": f"{rng.randint(7, 11)}:{pick(rng, ['00', '15', '30', '45'])}", "a": rng.randint(0, 4),
                "b": rng.randint(0, 4), "co": pick(rng, SHARED["companies"]), "year": rng.randint(1950, 2020)}


def wire_slots(rng: random.Random, w: Mapping[str, Any]) -> dict[str, Any]:
    (country, _), (country2, _) = rng.sample(SHARED["countries"], 2)
    team, team2 = rng.sample(w["team"], 2)
    co, co2 = rng.sample(SHARED["companies"], 2)
    return {"country": country, "country2": country2, "city": pick(rng, SHARED["cities"]),
            "town": pick(rng, SHARED["towns"]), "name": person(rng)["name"], "team": team, "team2": team2,
            "co": co, "co2": co2, "day": pick(rng, SHARED["days"]), "n": rng.randrange(150, 4000, 50),
            "bn": round(rng.uniform(1.2, 19.5), 1), "a": rng.randint(0, 5), "b": rng.randint(0, 5)}
