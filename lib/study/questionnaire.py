"""A blinded questionnaire for collaborators, and the scoring of what they send back.

Each item shows a question and five answers in a random order: one written by the author, the others by
a tuned model (the DigiDan protocol). The page is one self-contained HTML file that works offline: the
respondent picks an answer per item and downloads their choices as JSON. The key (which letter is the
author's) is written to a separate file that the researcher keeps.
"""

from __future__ import annotations

import csv
import html
import json
import random
import string
from pathlib import Path

from .. import storage
from . import stats

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:Georgia,serif;max-width:46em;margin:2em auto;line-height:1.5;padding:0 1em}}
.item{{border-top:1px solid #ccc;padding:1em 0}} label{{display:block;margin:.6em 0;padding:.5em;
border:1px solid #ddd;border-radius:4px}} input[type=radio]{{margin-right:.6em}} button{{font-size:1em;
padding:.5em 1em}}</style></head><body>
<h1>{title}</h1>
<p>Each question below was answered five times. <b>One</b> answer was written by the author; the others
were not. For each question, choose the answer you think the author wrote. There are {n} questions.</p>
<p><label style="border:none">Your name or initials: <input id="respondent" type="text"></label></p>
{items}
<p><button onclick="save()">Download my answers</button> and send the file back.</p>
<script>
function save() {{
  var answers = {{}};
  document.querySelectorAll('input[type=radio]:checked').forEach(function (r) {{ answers[r.name] = r.value; }});
  var data = {{respondent: document.getElementById('respondent').value, answers: answers}};
  var blob = new Blob([JSON.stringify(data, null, 1)], {{type: 'application/json'}});
  var a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = 'answers-' + (data.respondent || 'anonymous') + '.json';
  a.click();
}}
</script></body></html>"""


def build(items: list[dict], seed: int, title: str = "Which answer did the author write?") -> tuple[str, dict]:
    """(HTML page, key). `items`: {"id", "question", "real", "machine": [answers]}; order is seeded."""
    rng = random.Random(seed)
    blocks, key = [], {}
    for number, item in enumerate(items, 1):
        options = [("author", item["real"])] + [(f"machine-{i}", a) for i, a in enumerate(item["machine"])]
        rng.shuffle(options)
        letters = string.ascii_uppercase[: len(options)]
        key[item["id"]] = {"author": letters[[o for o, _ in options].index("author")],
                           "options": {letter: source for letter, (source, _) in zip(letters, options)}}
        choices = "".join(
            f'<label><input type="radio" name="{html.escape(item["id"])}" value="{letter}">'
            f"<b>{letter}.</b> {html.escape(text)}</label>" for letter, (_, text) in zip(letters, options))
        blocks.append(f'<div class="item"><h3>{number}. {html.escape(item["question"])}</h3>{choices}</div>')
    return PAGE.format(title=html.escape(title), n=len(items), items="".join(blocks)), key


def save(folder: Path, items: list[dict], seed: int, arm: str) -> tuple[Path, Path]:
    """questionnaire.html (to send) and questionnaire_key.json (to keep) in `folder`."""
    page, key = build(items, seed)
    html_path = storage.write_text(folder / "questionnaire.html", page)
    key_path = storage.write_json(folder / "questionnaire_key.json",
                                  {"arm": arm, "seed": seed, "chance": 1 / (len(items[0]["machine"]) + 1),
                                   "items": key})
    return html_path, key_path


def read_responses(path: Path) -> list[dict]:
    """A downloaded JSON answer file (one respondent or a list), or a CSV of respondent,item,choice."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        by_person: dict[str, dict] = {}
        for row in csv.DictReader(path.read_text(encoding="utf-8").splitlines()):
            by_person.setdefault(row["respondent"], {})[row["item"]] = row["choice"].strip().upper()
        return [{"respondent": r, "answers": a} for r, a in by_person.items()]
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, list) else [data]


def score(key: dict, responses: list[dict], seed: int = 0) -> dict:
    """How often people picked the author's real answer: per respondent, per item and overall (95% CI)."""
    items = key["items"]
    hits, per_person, per_item = [], {}, {i: [] for i in items}
    for response in responses:
        name = response.get("respondent") or "anonymous"
        mine = []
        for item, choice in response["answers"].items():
            if item not in items:
                raise ValueError(f"response of {name}: unknown item {item!r}")
            hit = float(str(choice).upper() == items[item]["author"])
            mine.append(hit)
            per_item[item].append(hit)
        per_person[name] = sum(mine) / len(mine) if mine else float("nan")
        hits += mine
    overall = stats.bootstrap_mean(hits, seed=seed)
    return {"overall": overall.as_dict(), "chance": key["chance"], "respondents": per_person,
            "items": {i: (sum(v) / len(v) if v else None) for i, v in per_item.items()}, "answers": len(hits)}


def score_path(key_path: Path, responses: str | Path, seed: int = 0) -> dict:
    """Score every answer file in a folder (or one file) against the key."""
    responses = Path(responses)
    files = sorted(responses.glob("*.json")) + sorted(responses.glob("*.csv")) if responses.is_dir() else [responses]
    if not files:
        raise FileNotFoundError(f"{responses}: no answer files (.json or .csv)")
    return score(storage.read_json(key_path), [r for f in files for r in read_responses(f)], seed)
