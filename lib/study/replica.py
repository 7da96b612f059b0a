"""Claim 3, replica: does the model speak in the author's voice, and which training stage makes it so?

- Completions: each arm continues openings taken from held-out documents (raw text, no chat format); the
  continuation is judged by the authorship measure (on the same number of words as every other text), and,
  as context, by ROUGE-L against what she really wrote next and by how often it speaks in the first person.
- The DigiDan test (Schwitzgebel, Schwitzgebel & Strasser 2024): each real answer of hers among
  `digidan_samples` answers of an arm to the same question, cut the way their study cut them
  (`lib.study.digidan`); the authorship measure picks one. Read two-sided against chance: near chance the
  arm passes for her (for this measure); above, her answer stands out; below, the arm's answers look more
  like her than she does (regurgitated training text does that).
- The blinded questionnaire for people (`lib.study.questionnaire`) is built from the same items.
"""

from __future__ import annotations

import dataclasses
import re

from ..view import display
from . import digidan, questionnaire, stats, voice
from .measures import MEAN, PROPORTION, Measure, claim_figure
from .study import ClaimResult, Study

CLAIM = "3 replica"
CONTROL_FOILS = 1        # answers of the control author's model among each item's options (with a control)
COPY_WORDS = 12          # a verbatim run this long from her training text is memorised, not imitated
FIRST_PERSON = re.compile(r"\b(?:i|me|my|mine|myself)\b", re.I)


def ngrams(text: str, n: int) -> set[int]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {hash(" ".join(words[i:i + n])) for i in range(len(words) - n + 1)}


def training_ngrams(study: Study, n: int) -> set[int]:
    """Hashes of every run of `n` words in the author's training text (to find verbatim copies), kept in the
    study's cache: both of the claim's measures ask for them."""
    key = ("training ngrams", n)
    if key not in study.cache:
        study.cache[key] = set().union(*(ngrams(text, n) for text in study.author_train))
    return study.cache[key]


def copies(texts: list[str], source: set[int], n: int = COPY_WORDS) -> list[float]:
    """1 where a text repeats at least `n` consecutive words of the source verbatim (memorised), else 0."""
    return [float(bool(ngrams(t, n) & source)) for t in texts]


def in_first_person(text: str) -> bool:
    """Whether the text speaks in the first person singular at all. A yes/no per text, not a rate: the rate is
    mostly zeros, and no interval of its mean covered on known truth (bootstrap-t bounds of 10^7), while a
    proportion's Wilson interval did."""
    return bool(FIRST_PERSON.search(text))


def completions(study: Study) -> tuple[list[Measure], list[dict]]:
    from rouge_score import rouge_scorer

    probes = study.probes["completions"]
    ids = [p["id"] for p in probes]
    voice = Measure(CLAIM, "continuations called the author's", "held-out opening", PROPORTION,
                    "higher = continues in her voice",
                    study.authorship.caveat(study.check) + f"voice on the first {study.authorship.words} words, "
                    "not whether it says what she said next", exploratory=True)
    voice.reference = {"the author's held-out text": study.check.sensitivity.mean}
    rouge = Measure(CLAIM, "continuation ROUGE-L", "held-out opening", MEAN,
                    "higher = closer in words to what she wrote next",
                    "word overlap with one true continuation; many good continuations share few words with it",
                    exploratory=True, bounds=(0.0, 1.0))
    copied = Measure(CLAIM, "continuations copying her training text", "held-out opening", PROPORTION,
                     f"higher = reproduces {COPY_WORDS}+ words of her training text verbatim (memorisation)",
                     "verbatim runs only: a close paraphrase of a training passage is not counted")
    person = Measure(CLAIM, "continuations in the first person", "held-out opening", PROPORTION,
                     "compare with her own continuations", "a habit of style, not a voice", exploratory=True)
    person.reference = {"the author's continuations": sum(in_first_person(p["truth"]) for p in probes) / max(1, len(probes))}
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    source = training_ngrams(study, COPY_WORDS)
    examples = []
    for arm in study.model_arms:
        raw = study.ask(arm, [p["opening"] for p in probes], "completion", ids, chat=False)
        voice.values[arm] = study.authorship.author_like(raw)
        voice.excluded[arm] = {"too short to judge": sum(v is None for v in voice.values[arm])}
        rouge.values[arm] = [scorer.score(p["truth"], r)["rougeL"].fmeasure for p, r in zip(probes, raw)]
        copied.values[arm] = copies(raw, source)
        person.values[arm] = [float(in_first_person(r)) for r in raw]
        if probes:
            examples.append({"arm": arm, "opening": probes[0]["opening"], "continuation": raw[0],
                             "hers": probes[0]["truth"]})
    return [voice, copied, rouge, person], examples


def machine_sampler(study: Study, arm: str, questions: list[str]):
    """`sample(question, attempt)` for digidan.build_items: round k answers every question at once (seed + k)."""
    def sample(question: str, attempt: int) -> str:
        settings = dataclasses.replace(study.sampling, seed=study.cfg.seed + attempt)
        answers = study.ask(arm, questions, f"digidan_{attempt}", settings=settings)
        return answers[questions.index(question)]
    return sample


def digidan_items(study: Study, arm: str, foils: bool = True) -> tuple[list[dict], dict]:
    """The real answers with `digidan_samples` usable machine answers each and, where the control author has an
    arm answering where this one does (and `foils`), CONTROL_FOILS of its answers; and what was excluded."""
    control = voice.counterpart(study, arm) if foils and study.has_control else None
    key = ("digidan items", arm, control)
    if key not in study.cache:  # the test, the foils and the questionnaire read the same items
        sources = study.probes["digidan"]
        questions = [s["question"] for s in sources]
        study.cache[key] = digidan.build_items(
            sources, machine_sampler(study, arm, questions), n_machine=study.cfg.digidan_samples,
            author_names=study.probes.get("author_names", []),
            foils=machine_sampler(study, control, questions) if control else None,
            n_foils=CONTROL_FOILS if control else 0)
    return study.cache[key]


def questionnaire_files(study: Study, arm: str | None) -> tuple[dict, object]:
    """(what to show, the key's path or None): the blinded questionnaire of `arm` (default: the last model arm),
    or, where every DigiDan item was dropped (answers too short to cut like hers), one line saying so and what
    to change, instead of an empty page."""
    arm = arm if arm in study.model_arms else study.model_arms[-1]
    items, counts = digidan_items(study, arm)
    if not items:
        return ({"no questionnaire": f"all {counts.get('items_dropped', 0)} DigiDan items of {arm} dropped",
                 "why": f"{counts.get('excluded_short', 0)} answers too short to cut like hers",
                 "what to do": "raise probe_max_new_tokens"}, None)
    page, key = questionnaire.save(study.folder, items, study.cfg.seed, arm, run_id=study.run_id,
                                   control_arm=voice.counterpart(study, arm) or "",
                                   purpose=study.cfg.questionnaire_purpose)
    return {"send to respondents": page, "keep to yourself": key}, key


def digidan_test(study: Study) -> tuple[Measure, list[dict]]:
    chance = 1 / (study.cfg.digidan_samples + 1)
    judge = "the two-author verifier" if voice.usable(study) else "the authorship measure"
    caveat = voice.caveat(study) + "; " if voice.usable(study) else study.authorship.caveat(study.check)
    measure = Measure(CLAIM, "DigiDan: the author's real answer picked", "item", PROPORTION,
                      f"chance {chance:.0%}; near chance = passes for her; above = hers stands out; below = the "
                      "arm sounds more like her than she does",
                      caveat + f"what {judge} can tell apart, not what a reader can: see the questionnaire",
                      exploratory=True)
    measure.reference = {"chance": chance}
    verdicts = []
    source = training_ngrams(study, COPY_WORDS)
    for arm in study.model_arms:
        items, counts = digidan_items(study, arm, foils=False)
        if voice.usable(study):  # her voice or the control's: the judge that passed its placebo on the oracles
            chosen = study.verifier.pick([[item["real"]] + item["machine"] for item in items])
        else:
            chosen = [study.authorship.pick_author([item["real"]] + item["machine"]) for item in items]
        picks = [None if c is None else float(c == 0) for c in chosen]
        copying = [c for item in items for c in copies(item["machine"], source)]
        by_id = {item["id"]: pick for item, pick in zip(items, picks)}
        measure.values[arm] = [by_id.get(source["id"]) for source in study.probes["digidan"]]
        measure.excluded[arm] = {"items without enough usable answers": counts.get("items_dropped", 0),
                                 "answers too short": counts.get("excluded_short", 0),
                                 "answers naming the speaker": counts.get("excluded_speaker", 0)}
        picks = [p for p in picks if p is not None]
        reading = digidan.pick_rate([bool(p) for p in picks], chance)
        memorised = sum(copying) / len(copying) if copying else 0.0
        if memorised >= 0.5:
            reading["verdict"] = (f"distinguishable: {memorised:.0%} of its answers copy {COPY_WORDS}+ words of her "
                                  "training text (memorised, not imitated)")
        measure.verdicts[arm] = reading["verdict"]
        verdicts.append({"arm": arm, "items": len(items), "picked": f"{int(sum(picks))}/{len(picks)}",
                         "rate": str(reading["estimate"]), "p (two-sided, vs chance)": reading["estimate"].p_value,
                         "reading": reading["verdict"], "answers copying her training text": f"{memorised:.0%}",
                         "written answers / held-out passages": "{} / {}".format(
                             sum(i.get("source") == "written" for i in items),
                             sum(i.get("source") != "written" for i in items))})
    return measure, verdicts


def foils_measure(study: Study) -> Measure | None:
    """With a control: per DigiDan item, the share of the arm's answers the two-author verifier reads as more
    hers than the control author's model's answer to the same question, each pair judged on the same number of
    words (0.5 = no difference). Exploratory: short texts, and the verifier's own measures are the headline."""
    if not voice.usable(study, fit=False):
        return None
    measure = Measure(CLAIM, "DigiDan: the arm's answers read as hers over the control's", "item", MEAN,
                      "0.5 = no difference; > 0.5 = the arm's answers sound more like her than the control's do",
                      voice.caveat(study) + "; on DigiDan's short cuts, an item's options on its shortest one's words",
                      exploratory=True, bounds=(0.0, 1.0), pairs=voice.PAIRS)
    measure.reference = {"no difference": 0.5}
    for arm in study.model_arms:
        if voice.counterpart(study, arm) is None:
            continue
        items, counts = digidan_items(study, arm)
        shares = study.verifier.above([(item["machine"], item["control"]) for item in items])
        by_id = {item["id"]: share for item, share in zip(items, shares)}
        measure.values[arm] = [by_id.get(source["id"]) for source in study.probes["digidan"]]
        measure.excluded[arm] = {"items without enough usable answers": counts.get("items_dropped", 0)}
    return measure if measure.values else None


def run(study: Study) -> ClaimResult:
    measures, examples = completions(study) if study.probes["completions"] else ([], [])
    dd, verdicts = digidan_test(study)
    measures.append(dd)
    mine, tables_mine, notes = voice.run(study)
    foils = foils_measure(study)
    measures += mine + ([foils] if foils else [])
    mde = stats.minimum_detectable_effect(len(study.probes["digidan"]), "proportion", dd.reference["chance"])
    tables = {
        "Continuations of a held-out opening": display.html_table(
            [{k: display.shorten(v, 500) for k, v in e.items()} for e in examples]),
        f"DigiDan test: her real answer among {study.cfg.digidan_samples + 1}, picked by "
        f"{'the two-author verifier' if voice.usable(study) else 'the authorship measure'} "
        f"(with {len(study.probes['digidan'])} items a rate can be told from chance when it differs by about "
        f"{mde:.0%})": display.html_table(verdicts),
    }
    tables = {**tables_mine, **tables}  # the verifier's quality first: whether its measures can be read at all
    figure = claim_figure(measures, "Claim 3: replica", study.cfg.bootstrap_samples, study.cfg.seed,
                                 shown=[m.name for m in measures if not m.exploratory or m is dd])
    return ClaimResult(CLAIM, measures, tables, figure, notes)
