"""The blinded questionnaire: a page that works offline and on a phone, a key kept apart and never lost,
scoring that refuses another questionnaire's answers, keeps anonymous people apart, counts what was left
unanswered, and reads people's hit rate over respondents and items against chance, two-sided."""

import html
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from lib.study import questionnaire

ITEMS = [{"id": f"dd-{i}", "question": f"Question {i}?", "real": f"Real answer {i}.",
          "machine": [f"Machine answer {i}.{k}" for k in range(4)], "source": "written"} for i in range(10)]


def response(key, answers, **fields):
    return {"questionnaire": key["questionnaire"], "answers": answers, **fields}


def test_questionnaire_round_trip(tmp_path):
    page_path, key_path = questionnaire.save(tmp_path, ITEMS, seed=3, arm="instruction")
    page = page_path.read_text()
    key = json.loads(key_path.read_text())
    assert "Real answer 0." in page and key["chance"] == pytest.approx(0.2)
    assert "machine-" not in page and "Machine answer 0.0" in page  # sources are hidden, texts are shown
    letters = {v["author"] for v in key["items"].values()}
    assert len(letters) > 1, "the real answer is not always in the same place"
    names = set(re.findall(r'name="(dd-\d+)" value="[A-E]"', page))
    assert names == {f"dd-{i}" for i in range(10)} and "questionnaire_key" not in page
    # a respondent who knows the author gets 8 of 10; one who always answers A gets what A is worth
    expert = response(key, {i: (v["author"] if n < 8 else "Z") for n, (i, v) in enumerate(key["items"].items())},
                      respondent="expert")
    back = tmp_path / "returned"
    back.mkdir()
    (back / "expert.json").write_text(json.dumps(expert))
    (back / "lazy.csv").write_text("questionnaire,respondent,item,choice\n"
                                   + "".join(f"{key['questionnaire']},lazy,dd-{i},a\n" for i in range(10)))
    responses = questionnaire.read_responses(back / "expert.json") + questionnaire.read_responses(back / "lazy.csv")
    result = questionnaire.score(key, responses)
    assert questionnaire.score_path(key_path, back) == result  # a folder of returned files
    assert result["respondents"]["expert"] == 0.8
    assert result["respondents"]["lazy"] == sum(v["author"] == "A" for v in key["items"].values()) / 10
    # two respondents who differ this much say little about people in general: the interval admits it
    assert result["answers"] == 20 and 0 <= result["overall"]["ci_low"] < result["overall"]["mean"] == 0.4
    assert result["overall"]["ci_high"] > 0.8 and "errs wide" in result["overall"]["method"]
    assert result["invalid_choices"] == 2, "'Z' is no option: counted as a wrong answer, and reported"
    with pytest.raises(ValueError, match="unknown item"):
        questionnaire.score(key, [response(key, {"nope": "A"}, respondent="x")])


def test_the_page_is_self_contained_and_reads_on_a_phone():
    page, key = questionnaire.build(ITEMS, seed=3, run_id="main-abc123", arm="instruction")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert not re.search(r"https?://|<script[^>]+src=|<link[^>]+href=|@import", page), "nothing from the network"
    assert "main-abc123" in page and key["questionnaire"] == "main-abc123"
    assert "instruction" not in page, "the page does not name the arm"
    assert all(f'name="group" value="{g}"' in page for g in questionnaire.GROUPS)
    assert "min-height:48px" in page and "@media" in page
    assert "$" not in page.replace("$/g", ""), "every placeholder filled"


def test_option_order_is_seeded_per_item():
    page, key = questionnaire.build(ITEMS, seed=3, run_id="r")
    assert questionnaire.build(ITEMS, seed=3, run_id="r") == (page, key), "same seed, same page"
    other = questionnaire.build(ITEMS, seed=4, run_id="r")[1]
    assert any(other["items"][i]["author"] != key["items"][i]["author"] for i in key["items"])
    alone = questionnaire.build(ITEMS[5:6], seed=3, run_id="r")[1]
    assert alone["items"]["dd-5"] == key["items"]["dd-5"], "an item's order does not depend on the others"
    many = [dict(ITEMS[0], id=f"x{i}") for i in range(400)]
    places = [v["author"] for v in questionnaire.build(many, seed=1, run_id="r")[1]["items"].values()]
    assert all(50 <= places.count(letter) <= 110 for letter in "ABCDE"), "the real answer's place is uniform"


def test_answers_to_another_questionnaire_are_refused(tmp_path):
    page, key = questionnaire.build(ITEMS, seed=3, run_id="main-first")
    stray = dict(response(key, {"dd-0": "A"}), questionnaire="main-second", file="answers-ann.json")
    with pytest.raises(ValueError, match=r"^answers-ann.json: answers to questionnaire 'main-second', but this key "
                                         r"is for 'main-first': score them with questionnaire_key-main-second.json$"):
        questionnaire.score(key, [response(key, {"dd-0": "A"}), stray])
    with pytest.raises(ValueError, match="carries no questionnaire id"):
        questionnaire.score(key, [{"answers": {"dd-0": "A"}, "file": "old.json"}])
    (tmp_path / "paper.csv").write_text("respondent,item,choice\nann,dd-0,A\n")
    with pytest.raises(ValueError, match=r"paper.csv: lacks the column\(s\) questionnaire"):
        questionnaire.read_responses(tmp_path / "paper.csv")
    (tmp_path / "junk.json").write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="junk.json: is not an answer file"):
        questionnaire.read_responses(tmp_path / "junk.json")


def test_a_new_questionnaire_never_loses_the_key_of_one_already_sent(tmp_path):
    probe = tmp_path / "myrun" / "probe"
    probe.mkdir(parents=True)
    _, first = questionnaire.save(probe, ITEMS, seed=3, arm="instruction")
    first_id = json.loads(first.read_text())["questionnaire"]
    assert first_id.startswith("myrun-")
    changed = [dict(ITEMS[0], machine=["Another answer."] * 4)] + ITEMS[1:]
    _, latest = questionnaire.save(probe, changed, seed=3, arm="instruction")
    latest_key = json.loads(latest.read_text())
    assert latest_key["questionnaire"] != first_id
    kept = probe / f"questionnaire_key-{first_id}.json"
    assert json.loads(kept.read_text())["questionnaire"] == first_id, "the first key is still there"
    early = response({"questionnaire": first_id}, {"dd-0": "A"}, file="early.json")
    with pytest.raises(ValueError, match=f"questionnaire_key-{first_id}.json"):
        questionnaire.score(latest_key, [early])
    assert questionnaire.score(json.loads(kept.read_text()), [early])["answers"] == 1
    again = questionnaire.save(probe, changed, seed=3, arm="instruction")[1]
    assert json.loads(again.read_text()) == latest_key, "saving the same questionnaire again changes nothing"
    run = json.loads(questionnaire.save(probe, ITEMS, 3, "instruction", run_id="myrun-1a2b3c4d")[1].read_text())
    other = json.loads(questionnaire.save(probe, changed, 3, "instruction", run_id="myrun-1a2b3c4d")[1].read_text())
    assert run["questionnaire"].startswith("myrun-1a2b3c4d-") and other["questionnaire"].startswith("myrun-1a2b3c4d-")
    assert run["questionnaire"] != other["questionnaire"], "one run, two questionnaires: two ids, two keys kept"
    assert len(list(probe.glob("questionnaire_key-*.json"))) == 4


def test_anonymous_respondents_stay_distinct_and_a_second_download_replaces_the_first():
    _, key = questionnaire.build(ITEMS, seed=3, run_id="r")
    author = {i: v["author"] for i, v in key["items"].items()}
    wrong = {i: ("B" if v == "A" else "A") for i, v in author.items()}
    people = [response(key, wrong, respondent_id="aaaa1111", saved="2026-01-01T10:00:00Z", respondent=""),
              response(key, author, respondent_id="aaaa1111", saved="2026-01-01T11:00:00Z", respondent=""),
              response(key, wrong, respondent_id="bbbb2222", saved="2026-01-01T09:00:00Z"),
              response(key, author, respondent="Ann", respondent_id="cccc3333"),
              response(key, wrong, respondent="Ann", respondent_id="dddd4444")]
    result = questionnaire.score(key, people)
    assert result["respondents_count"] == 4 and result["repeated_downloads"] == 1
    assert result["respondents"]["anonymous (aaaa11)"] == 1.0, "the later download of the same person counts"
    assert result["respondents"]["anonymous (bbbb22)"] == 0.0
    assert result["respondents"]["Ann"] == 1.0 and result["respondents"]["Ann (dddd44)"] == 0.0
    assert result["answers"] == 40


def test_unanswered_items_are_counted_not_scored():
    _, key = questionnaire.build(ITEMS, seed=3, run_id="r")
    author = {i: v["author"] for i, v in key["items"].items()}
    partial = {i: a for n, (i, a) in enumerate(author.items()) if n < 7} | {"dd-9": ""}
    result = questionnaire.score(key, [response(key, partial, respondent="busy", respondent_id="1"),
                                       response(key, author, respondent="full", respondent_id="2")])
    assert result["respondents"]["busy"] == 1.0, "7 of 7 answered, not 7 of 10"
    assert result["respondent_details"]["busy"]["unanswered"] == 3 and result["unanswered"] == 3
    assert result["answers"] == 17 and result["overall"]["n"] == 17
    assert result["items"]["dd-8"] == 1.0 and result["item_details"]["dd-8"]["n"] == 1
    nobody = questionnaire.score(key, [response(key, {}, respondent="none", respondent_id="3")])
    assert nobody["respondents"]["none"] is None and nobody["items"]["dd-0"] is None


def crowd(key, rates_by_group: dict, respondents: int, seed: int) -> list[dict]:
    """Respondents who pick the author's answer with a group's rate, else a machine answer at random."""
    rng = np.random.default_rng(seed)
    people = []
    for group, rate in rates_by_group.items():
        for r in range(respondents):
            answers = {}
            for item, entry in key["items"].items():
                machines = [letter for letter in entry["options"] if letter != entry["author"]]
                answers[item] = entry["author"] if rng.random() < rate else str(rng.choice(machines))
            people.append(response(key, answers, respondent_id=f"{group}-{r}", group=group))
    return people


def test_groups_and_the_two_sided_verdict():
    many = [dict(ITEMS[0], id=f"q{i}") for i in range(30)]
    _, key = questionnaire.build(many, seed=5, run_id="r")
    result = questionnaire.score(key, crowd(key, {"knows-author": 0.7, "other": 0.2}, respondents=12, seed=1))
    experts, others = result["groups"]["knows-author"], result["groups"]["other"]
    assert experts["respondents"] == 12 and experts["n"] == 360 and experts["ci_low"] > 0.55
    assert others["ci_low"] < 0.2 < others["ci_high"]
    assert result["verdict"] == "distinguishable: the real answer stands out"
    at_chance = questionnaire.score(key, crowd(key, {"field": 0.2}, respondents=12, seed=2))
    assert at_chance["verdict"] == "indistinguishable at this sample size"
    below = questionnaire.score(key, crowd(key, {"field": 0.02}, respondents=12, seed=3))
    assert below["verdict"].startswith("distinguishable: the machine answers look more like the author")
    unsure = questionnaire.score(key, [dict(p, group="martian") for p in crowd(key, {"x": 0.2}, 3, seed=4)])
    assert list(unsure["groups"]) == ["not given"]
    summary = questionnaire.summary_html(result)
    assert f"{result['overall']['mean']:.0%} of the time" in summary and "the real answer stands out" in summary
    assert all(title in summary for title in ("Per respondent group", "Per item", "Per respondent"))
    assert "knows-author" in summary and "q29" in summary


# --- the page in a real browser ------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

DRIVE = """<script>
(function () {
  var out = {}, captured = null;
  window.download = function (text, name) { captured = {text: text, name: name}; };
  window.confirm = function () { return false; };
  var items = document.querySelectorAll(".item");
  items[0].querySelectorAll("input")[0].click();
  items[2].querySelectorAll("input")[1].click();
  out.refused = save();
  out.flagged = Array.prototype.map.call(document.querySelectorAll(".item.unanswered"), function (e) { return e.id; });
  out.check = document.getElementById("check").textContent;
  out.downloaded_when_refused = captured !== null;
  window.confirm = function () { return true; };
  document.querySelector("input[name=group][value=field]").click();
  out.saved = save();
  out.download = captured;
  out.chosen = document.querySelectorAll("label.option.chosen").length;
  out.scroll_width = document.documentElement.scrollWidth;
  out.inner_width = window.innerWidth;
  out.min_option_height = Math.min.apply(null, Array.prototype.map.call(document.querySelectorAll("label.option"),
      function (l) { return l.getBoundingClientRect().height; }));
  var pre = document.createElement("pre");
  pre.id = "test-result";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
</body>"""


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("P4_REQUIRE_BROWSER"), reason="no Chromium on this machine")
def test_the_page_in_a_phone_sized_browser(tmp_path):
    long_items = [dict(item, real=item["real"] + " A longer answer that wraps" * 12) for item in ITEMS]
    page, key = questionnaire.build(long_items, seed=3, run_id="main-phone")
    (tmp_path / "page.html").write_text(page.replace("</body>", DRIVE))
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--window-size=390,844",
                           "--virtual-time-budget=3000", "--dump-dom", (tmp_path / "page.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="test-result">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    out = json.loads(html.unescape(found.group(1)))
    assert out["refused"] is None and not out["downloaded_when_refused"], "asked first, and nothing downloaded"
    assert out["flagged"] == [f"item-{n}" for n in (2, 4, 5, 6, 7, 8, 9, 10)]
    assert "questions 2, 4, 5, 6, 7, 8, 9, 10" in out["check"] and "which group" in out["check"]
    sent = json.loads(out["download"]["text"])
    assert sent["questionnaire"] == "main-phone" and re.fullmatch(r"[0-9a-f]{16}", sent["respondent_id"])
    assert sent["group"] == "field" and set(sent["answers"]) == {"dd-0", "dd-2"} and len(sent["unanswered"]) == 8
    assert out["download"]["name"] == f"answers-{sent['respondent_id']}.json"
    assert out["chosen"] == 3, "the chosen answers (and group) are shown as chosen"
    assert out["scroll_width"] <= out["inner_width"], "no sideways scrolling on a phone"
    assert out["min_option_height"] >= 44, "options are large enough to tap"
    result = questionnaire.score(key, [dict(sent, file=out["download"]["name"])])
    assert result["answers"] == 2 and result["unanswered"] == 8 and list(result["groups"]) == ["field"]


def test_the_control_arms_answers_are_options_and_the_key_says_which_came_from_where(tmp_path):
    items = [dict(item, control=[f"Control answer {n}."]) for n, item in enumerate(ITEMS)]
    page, key = questionnaire.build(items, seed=3, run_id="r", arm="instruction", control_arm="control_instruction")
    assert key["chance"] == pytest.approx(1 / 6) and key["control_arm"] == "control_instruction"
    assert all(sorted(v["options"].values()) == ["author", "control-0", "machine-0", "machine-1", "machine-2",
                                                 "machine-3"] for v in key["items"].values())
    assert "Control answer 3." in page and "tuned on another writer" in page
    assert "instruction" not in page and "control-0" not in page, "the page never says which option is whose"
    control = {item: next(letter for letter, source in v["options"].items() if source == "control-0")
               for item, v in key["items"].items()}
    mistaken = response(key, {item: letter for n, (item, letter) in enumerate(control.items()) if n < 6}
                        | {item: v["author"] for n, (item, v) in enumerate(key["items"].items()) if n >= 6},
                        respondent="reader")
    picked = questionnaire.score(key, [mistaken])["picked_by_source"]
    assert picked["control"] == {"picks": 6, "share": 0.6, "share if indistinguishable": pytest.approx(1 / 6)}
    assert picked["author"]["picks"] == 4 and picked["machine"]["share if indistinguishable"] == pytest.approx(4 / 6)
    assert "Whose answers were picked" in questionnaire.summary_html(questionnaire.score(key, [mistaken]))
    _, plain = questionnaire.build(ITEMS, seed=3, run_id="r")
    scores = questionnaire.score(plain, [response(plain, {"dd-0": "A"}, respondent="x")])
    assert "control" not in scores["picked_by_source"] and "Whose answers" not in questionnaire.summary_html(scores)
