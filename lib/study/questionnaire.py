"""A blinded questionnaire for people, in the DigiDan form, and the scoring of what they send back.

Each item shows a question and its options (the author's real answer and the machine answers from
`digidan.build_items`) in an order seeded per item. The page (`questionnaire_page.html` filled in) is one
self-contained HTML file: no network, readable on a phone, answers kept on the device until the respondent
downloads them as JSON. It carries the questionnaire's id, asks which group the respondent belongs to, gives
each respondent a random id (so anonymous people stay distinct and a second download replaces the first),
and names unanswered questions before the download. The key (which letter is the author's) is a separate
file for the researcher: `questionnaire_key.json`, and a copy named by the id that is never overwritten, so
a key of a page already sent is never lost. Scoring refuses answers to another questionnaire, and reads the
hit rate with respondents and items both random (`stats.crossed`), two-sided against chance.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import random
import string
from pathlib import Path

from ..files import storage
from ..view import display
from . import digidan, stats

PAGE = string.Template((Path(__file__).with_name("questionnaire_page.html")).read_text(encoding="utf-8"))
GROUPS = {"knows-author": "I know the author's work well",
          "field": "I work in the author's field, but do not know the author's work well",
          "other": "Other"}
TITLE = "Which answer did the author write?"


def questionnaire_id(items: list[dict], seed: int, arm: str, run: str) -> str:
    """The run's id and a digest of what the page shows: the same questionnaire always gets the same id, a
    changed one (other items, seed or arm) another, so answers are matched to the key they were made against."""
    digest = hashlib.sha256(json.dumps([items, seed, arm], sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"{run}-{digest[:8]}"


def item_order(item: dict, seed: int) -> list[tuple[str, str]]:
    """(source, text) options in an order seeded by the questionnaire's seed and the item's id alone, so the
    real answer's place is random per item and does not move when other items are added or removed. Sources:
    "author", "machine-i" (the arm's answers), "control-i" (the control author's model's answers, if any)."""
    options = [("author", item["real"])] + [(f"machine-{i}", text) for i, text in enumerate(item["machine"])]
    options += [(f"control-{i}", text) for i, text in enumerate(item.get("control") or [])]
    random.Random(f"{seed}:{item['id']}").shuffle(options)
    return options


def script_json(value) -> str:
    """JSON that is safe inside an HTML <script>: no `<`, `>` or `&` (so no `</script>` or `<!--` can end or
    confuse the script, whatever an item's id holds) and no U+2028/U+2029 (line ends to older JavaScript)."""
    text = json.dumps(value, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                          ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def kind(source: str) -> str:
    """What an option is, from its source in the key: the author's, the arm's ("machine") or the control's."""
    return source.split("-")[0]


def build(items: list[dict], seed: int, run_id: str, title: str = TITLE, arm: str = "",
          control_arm: str = "", purpose: str | None = None) -> tuple[str, dict]:
    """(the page, the key). `items`: {"id", "question", "real", "machine": [...], optional "control": [...] (the
    control author's model's answers, from `control_arm`), optional "source"}; `run_id`: the questionnaire's id
    as page and key carry it (`save` makes it from the run's); `purpose`: one line from the researcher saying why
    the questionnaire is asked (`questionnaire_purpose`). The page says what kinds of answers the options are,
    never which is which; the key says which option came from where."""
    if not items:
        raise ValueError("questionnaire: no items to show (did every DigiDan item get dropped?)")
    blocks, key = [], {}
    for number, item in enumerate(items, 1):
        options = item_order(item, seed)
        letters = string.ascii_uppercase[: len(options)]
        key[item["id"]] = {"author": letters[[source for source, _ in options].index("author")],
                           "options": {letter: source for letter, (source, _) in zip(letters, options)},
                           "source": item.get("source", "written")}
        name = html.escape(item["id"], quote=True)
        choices = "".join(f'<label class="option"><input type="radio" name="{name}" value="{letter}">'
                          f'<span class="letter">{letter}.</span> {html.escape(text)}</label>\n'
                          for letter, (_, text) in zip(letters, options))
        blocks.append(f'<div class="item" id="item-{number}"><h2>{number}. {html.escape(item["question"])}</h2>\n'
                      f"{choices}</div>")
    groups = "".join(f'<label class="option"><input type="radio" name="group" value="{value}">{html.escape(text)}'
                     "</label>\n" for value, text in GROUPS.items())
    config = script_json({"questionnaire": run_id, "items": [item["id"] for item in items]})
    line = f'<p class="purpose">{html.escape(purpose.strip())}</p>' if purpose and purpose.strip() else ""
    foils = len(items[0].get("control") or [])
    others = (f": {len(items[0]['machine'])} were written by a computer model tuned on the author's writings and "
              f"{foils} by a model tuned on another writer's, in an order that changes from question to question"
              if foils else "")
    page = PAGE.substitute(title=html.escape(title), options=len(items[0]["machine"]) + foils + 1, count=len(items),
                           groups=groups, items="\n".join(blocks), questionnaire=html.escape(run_id), config=config,
                           others=html.escape(others), purpose=line)
    chance = sum(1 / len(v["options"]) for v in key.values()) / len(key)
    return page, {"questionnaire": run_id, "arm": arm, "control_arm": control_arm if foils else "", "seed": seed,
                  "chance": chance, "groups": GROUPS, "items": key,
                  "sources": {"author": "the author's own answer", "machine": f"the arm {arm or '(unnamed)'}",
                              **({"control": f"the control author's arm {control_arm or '(unnamed)'}"} if foils
                                 else {})}}


def save(folder: Path, items: list[dict], seed: int, arm: str, run_id: str | None = None,
         title: str = TITLE, control_arm: str = "", purpose: str | None = None) -> tuple[Path, Path]:
    """questionnaire.html (to send) and questionnaire_key.json (to keep) in `folder`, written atomically, and
    the key again as questionnaire_key-<id>.json: a later questionnaire replaces the first two, never that.
    The id is the run's (`run_id`, else the run folder's name) and a digest of the questionnaire's content."""
    folder = Path(folder)
    run_id = questionnaire_id(items, seed, arm, run_id or folder.parent.name or "run")
    page, key = build(items, seed, run_id, title, arm, control_arm, purpose)
    kept = folder / f"questionnaire_key-{run_id}.json"
    if kept.exists() and storage.read_json(kept)["items"] != key["items"]:
        raise ValueError(f"{kept}: a different key already has the id {run_id}; choose another run_id")
    storage.write_json(kept, key)
    return storage.write_text(folder / "questionnaire.html", page), storage.write_json(
        folder / "questionnaire_key.json", key)


def read_responses(path: Path) -> list[dict]:
    """The answers in a file sent back: the page's JSON download (one respondent, or a list), or a CSV with
    columns questionnaire, respondent, item, choice (and optionally group, respondent_id), one row per answer,
    for answers typed in from paper. Each response notes the file it came from."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
            missing = {"questionnaire", "respondent", "item", "choice"} - set(rows[0] if rows else ())
            if missing:
                raise ValueError(f"lacks the column(s) {', '.join(sorted(missing))}")
            people: dict[str, dict] = {}
            for row in rows:
                person = people.setdefault(row["respondent"], {
                    "questionnaire": row["questionnaire"], "respondent": row["respondent"], "answers": {},
                    "respondent_id": row.get("respondent_id") or "", "group": row.get("group") or ""})
                person["answers"][row["item"]] = row["choice"].strip().upper()
            responses = list(people.values())
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
            responses = data if isinstance(data, list) else [data]
            if not all(isinstance(r, dict) and isinstance(r.get("answers"), dict) for r in responses):
                raise ValueError("is not an answer file from the questionnaire page (no answers)")
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: {exc}; expected the page's JSON download or a CSV with columns "
                         "questionnaire, respondent, item, choice") from None
    return [dict(r, file=path.name) for r in responses]


def _distinct(responses: list[dict]) -> tuple[list[tuple[str, dict]], int]:
    """One response per respondent, labelled. The page's random id tells people apart (two anonymous
    respondents stay two); the same id twice is one person who downloaded again: the later download counts."""
    latest: dict[str, dict] = {}
    for number, response in enumerate(responses):
        who = response.get("respondent_id") or response.get("respondent") or f"{response.get('file', '')}#{number}"
        if who not in latest or str(response.get("saved", "")) >= str(latest[who].get("saved", "")):
            latest[who] = response
    labelled, used = [], set()
    for who, response in latest.items():
        name = (response.get("respondent") or "").strip()
        tries = ([name] if name else []) + [f"{name or 'anonymous'} ({str(who)[:6]})", f"{name or 'anonymous'} ({who})"]
        label = next(t for t in tries if t not in used)
        used.add(label)
        labelled.append((label, response))
    return labelled, len(responses) - len(latest)


def score(key: dict, responses: list[dict]) -> dict:
    """How often people picked the author's real answer: overall (respondents and items both random), per
    respondent group, per respondent and per item, against chance, read two-sided; with the counts of
    unanswered questions, invalid choices and repeated downloads. Answers to another questionnaire are
    refused."""
    expected, items = key.get("questionnaire"), key["items"]
    for response in responses:
        theirs, where = response.get("questionnaire"), response.get("file", "a response")
        if not theirs:
            raise ValueError(f"{where}: carries no questionnaire id (the page writes one; a CSV needs a "
                             f"questionnaire column with {expected!r})")
        if theirs != expected:
            raise ValueError(f"{where}: answers to questionnaire {theirs!r}, but this key is for {expected!r}: "
                             f"score them with questionnaire_key-{theirs}.json")
    people, repeated = _distinct(responses)
    triples, groups, per_person, details, unanswered, invalid, picked = [], {}, {}, {}, 0, 0, {}
    for label, response in people:
        unknown = sorted(set(response["answers"]) - set(items))
        if unknown:
            raise ValueError(f"{response.get('file', 'a response')}: respondent {label} answered unknown item "
                             f"{unknown[0]!r}; is this the right key?")
        group = response.get("group") if response.get("group") in GROUPS else "not given"
        hits = {}
        for item, entry in items.items():
            choice = str(response["answers"].get(item) or "").strip().upper()
            if choice:
                hits[item] = float(choice == entry["author"])
                invalid += choice not in entry["options"]
                if choice in entry["options"]:
                    picked[kind(entry["options"][choice])] = picked.get(kind(entry["options"][choice]), 0) + 1
        unanswered += len(items) - len(hits)
        triples += [(label, item, hit) for item, hit in hits.items()]
        groups.setdefault(group, []).extend((label, item, hit) for item, hit in hits.items())
        per_person[label] = sum(hits.values()) / len(hits) if hits else None
        details[label] = {"group": group, "answered": len(hits), "unanswered": len(items) - len(hits),
                          "hits": int(sum(hits.values())), "file": response.get("file")}
    overall = stats.crossed(triples)
    item_rows = {item: stats.proportion([h for _, i, h in triples if i == item]) for item in items}
    return {"questionnaire": expected, "overall": overall.as_dict(), "chance": key["chance"],
            "verdict": digidan.verdict(overall, key["chance"]), "respondents": per_person,
            "respondent_details": details,
            "groups": {g: {**stats.crossed(t).as_dict(), "respondents": len({p for p, _, _ in t})}
                       for g, t in sorted(groups.items())},
            "items": {item: (e.mean if e.n else None) for item, e in item_rows.items()},
            "item_details": {item: {**e.as_dict(), "source": items[item].get("source")}
                             for item, e in item_rows.items()},
            "answers": len(triples), "unanswered": unanswered, "invalid_choices": invalid,
            "picked_by_source": by_source(items, picked),
            "respondents_count": len(people), "repeated_downloads": repeated}


def by_source(items: dict, picked: dict[str, int]) -> dict[str, dict]:
    """Whose answers people picked as the author's: per kind of option (the author's, the arm's, the control's),
    the picks, their share, and the share it would get if every option were equally likely to be picked. With
    the control's answers among the options, the arm's share against the control's (per option) says whether
    people mistake the arm for her more than they mistake the control author's model for her."""
    offered: dict[str, float] = {}
    for entry in items.values():
        for source in entry["options"].values():
            offered[kind(source)] = offered.get(kind(source), 0) + 1 / len(entry["options"]) / len(items)
    total = sum(picked.values())
    return {k: {"picks": picked.get(k, 0), "share": picked.get(k, 0) / total if total else None,
                "share if indistinguishable": offered[k]} for k in sorted(offered)}


def score_path(key_path: Path | None, responses: str | Path) -> dict:
    """Score every answer file in a folder (or one file) against the key."""
    if key_path is None:
        raise ValueError("questionnaire_responses: this run built no questionnaire to score them against")
    responses = Path(responses)
    files = sorted(responses.glob("*.json")) + sorted(responses.glob("*.csv")) if responses.is_dir() else [responses]
    if not files:
        raise FileNotFoundError(f"{responses}: no answer files (.json or .csv)")
    return score(storage.read_json(key_path), [r for f in files for r in read_responses(f)])


def summary_html(scores: dict) -> str:
    """The scores for a notebook or report: the overall reading, then per group, per item, per respondent."""
    overall = scores["overall"]
    head = (f"<p><b>People picked the author's answer {overall['mean']:.0%} of the time</b> "
            f"(95% interval {overall['ci_low']:.0%} to {overall['ci_high']:.0%}; chance {scores['chance']:.0%}): "
            f"{html.escape(scores['verdict'])}. {scores['respondents_count']} respondents, {scores['answers']} "
            f"answers, {scores['unanswered']} questions left unanswered, {scores['repeated_downloads']} repeated "
            f"downloads replaced. {html.escape(overall['method'])}.</p>")
    percent = lambda v: "" if v is None or v != v else f"{v:.0%}"  # noqa: E731
    groups = [{"group": g, "respondents": e["respondents"], "answers": e["n"], "picked": percent(e["mean"]),
               "95% interval": f"{percent(e['ci_low'])} to {percent(e['ci_high'])}"} for g, e in scores["groups"].items()]
    items = [{"item": i, "source": e["source"], "answers": e["n"], "picked": percent(e["mean"]),
              "95% interval": f"{percent(e['ci_low'])} to {percent(e['ci_high'])}"}
             for i, e in scores["item_details"].items()]
    people = [{"respondent": who, "group": d["group"], "answered": d["answered"], "unanswered": d["unanswered"],
               "picked": percent(scores["respondents"][who])} for who, d in scores["respondent_details"].items()]
    sources = [{"picked": k, "picks": v["picks"], "share": percent(v["share"]),
                "share if all options were alike": percent(v["share if indistinguishable"])}
               for k, v in scores.get("picked_by_source", {}).items()]
    tables = ([("Whose answers were picked as the author's", sources)]
              if "control" in scores.get("picked_by_source", {}) else [])
    return head + "".join(display.html_table(rows, title=title) for title, rows in (
        *tables, ("Per respondent group", groups), ("Per item", items), ("Per respondent", people)))
