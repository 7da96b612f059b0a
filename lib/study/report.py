"""The probe study's report: the primary contrasts first, then each claim's numbered figure and tables, the
sizes the study rests on, the seed study's checklist answered by pointers to the contrasts, and provenance.

Saved in the run's `probe/` folder: `report.html` (self-contained: figures embedded, no scripts), `report.json`,
`measures.csv` (an estimate per measure and arm), `contrasts.csv` (every paired contrast), `claimN.png` and
`generations.jsonl` (every answer with its arm, probe and settings).
"""

from __future__ import annotations

import base64
import datetime
import functools
import html
import io
import math
import re
from pathlib import Path

import pandas as pd

from .. import display, install, storage
from . import match as match_mod
from . import measures as measures_mod
from . import probes as probes_mod
from . import stats
from .arms import LABELS

# The seed study's checklist: (section, question, contrasts or measures that bear on it, where, what it cannot
# say, whether this design answers it)
CHECKLIST = [
    ("Inextricability", "Do model outputs blend personal patterns with population-level regularities?",
     ["inextricability index (gain on his text / on hers)", "loss on her text minus on the control's"],
     "Claim 1: the 2 x 2 cross-likelihood and the inextricability index",
     "prediction of her words, not her judgements; says nothing of the model's answers",
     "In part, with a control author: how much of what an arm learned of her text shows on a register-mate's"),
    ("Inextricability", "Can you distinguish author-like responses from generic reasoning?",
     ["loss on held-out author text", "answers called hers, not the control's"],
     "Primary contrasts (stage 1 - control stage 1 on her held-out text); Figure 1",
     "against the base model a lower loss is not hers (an arm tuned on a register-mate shows it too); the "
     "one-author classifier's verdicts are exploratory",
     "Yes for predicting her unseen writing, with a control author; for the voice of answers see claim 3"),
    ("Inextricability", "Evidence of catastrophic forgetting with aggressive fine-tuning?",
     ["loss on general text"], "Figure 1", "prediction of other people's prose, not skills or facts",
     "Yes, for other people's prose (against the base model)"),
    ("Steerability", "Does the model incorporate new context provided at inference time?",
     ["follows the new statement"], "Figure 2", "stance from marker phrases; read the answers",
     "Yes, on marker phrases, against the base model"),
    ("Steerability", "Can you override fine-tuned patterns with explicit instructions?",
     ["moves away from the author when told to", "instruction compliance"], "Figure 2", "",
     "Yes for verifiable instructions; the voice override rests on an exploratory measure"),
    ("Steerability", "Comparison with the base model's context-following ability?",
     ["instruction compliance", "follows the new statement"], "Figure 2 (contrasts against base)", "",
     "Yes"),
    ("Replica", "Does sentence-completion training produce speech in your voice?",
     ["continuations called the author's", "continuations called hers, not the control's"], "Figure 3 (stage 1 - base)",
     "voice, not what the author would say next",
     "With a control author: the share called the author's against the control's arm (claim 3); without one, "
     "not about the author"),
    ("Replica", "Phenomenological observations about interacting with the model", [],
     "the side-by-side tables, the chat box in 03_instruct, the questionnaire", "a matter for people, not a number",
     "No: people's observations, for which the study gives material"),
    ("Replica", "Differences between pre-training-only and instruction-tuned models?",
     ["continuations called the author's", "DigiDan: the author's real answer picked"],
     "Figure 3 (stage 1 + 2 - stage 1)", "", "In part: stage 1 + 2 - stage 1 on each measure, none of it primary"),
    ("Domination", "How persuasive or authoritative do the model's outputs feel?",
     ["boosters per 100 words, relative to the author's", "hedges per 100 words, relative to the author's",
      "judged more authoritative than the author's passage"], "Figure 4",
     "word lists count style, not persuasion; the questionnaire asks people",
     "In part: style counts and a model's judgement; how it feels needs people"),
    ("Domination", "Would a surrogate find the outputs too compelling to override?", [],
     "the side-by-side table of claim 4; questionnaire responses", "needs people: no automatic measure answers it",
     "No: needs surrogates"),
    ("Domination", "Comparison with simple retrieval of original documents?",
     ["support by the author's passages", "boosters per 100 words, relative to the author's"],
     "Figure 4 (against retrieval and the base floor)", "",
     "In part: support and style against retrieval (support is in no oracle yet)"),
]


def tables(study, results) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(estimates: a row per measure and arm, contrasts: a row per paired contrast) of every claim."""
    cfg = study.cfg
    estimates, contrasts = [], []
    for result in results:
        for m in result.measures:
            estimates += measures_mod.arm_rows(m, cfg.bootstrap_samples, cfg.seed)
            contrasts += measures_mod.contrast_rows(m, cfg.bootstrap_samples, cfg.seed)
        contrasts += getattr(result, "contrasts", [])
    return pd.DataFrame(estimates), pd.DataFrame(contrasts)


def primary(contrasts: pd.DataFrame, declared: list[str], study=None) -> tuple[pd.DataFrame, list[dict]]:
    """The declared primaries, Holm over the whole declared family; with `study`, a missing control author or
    control stage is given as the reason a primary was not computed."""
    reasons = missing_arms(study, declared) if study is not None else {}
    chosen, missing = measures_mod.primary(contrasts.to_dict(orient="records") if len(contrasts) else [], declared,
                                           reasons)
    return pd.DataFrame(chosen), missing


def missing_arms(study, declared: list[str]) -> dict[str, str]:
    """Declared contrast -> why it cannot exist in this run, for those naming an arm the run lacks."""
    arms = {LABELS.get(a, a): a for a in [*LABELS, "retrieval"]}
    reasons = {}
    for name in declared:
        pair = name.rpartition(": ")[2]
        named = [arms.get(label.strip()) for label in pair.split(" - ")]
        lacking = [a for a in named if a and a not in study.model_arms and a != "retrieval"]
        if any(a.startswith("control_") for a in lacking):
            reasons[name] = ("no control corpus (control_corpus is not set): the control author's arms and text do "
                             "not exist" if not study.has_control else
                             "the control author's stage was not trained (run 02/03 with control_corpus set)")
        elif lacking:
            reasons[name] = f"arm not in this run: {', '.join(LABELS.get(a, a) for a in lacking)}"
    return reasons


# Said first when the study has no control author: what cannot then be said about her
WITHOUT_CONTROL = [
    "Claim 1: that what the arms learned is hers rather than her register's. Her arm against the control's on her "
    "held-out text (the declared primary), the 2 x 2 cross-likelihood and the inextricability index need another "
    "person's writing in her register, trained alike. Lower loss than the base model's is also what an arm tuned "
    "on another essayist of her register shows.",
    "Claim 3: that the voice is hers rather than her register's: the two-author verifier learns her against the "
    "control, and the share called hers is read against the control's arm.",
    "The DigiDan test and the questionnaire: without the control arm's answers among the foils, picking her "
    "answer shows it differs from the machine's, not from a register-mate's.",
    "Claims 2 and 4 (steering; authority beside her passages) compare with the base model and retrieval, and "
    "stand without a control.",
]


def first_lines_html(study, missing: list[dict]) -> str:
    """What the reader must know before any number: claims that cannot be made about her without a control
    author, and each declared primary that was not computed, with its reason."""
    parts = []
    if not study.has_control:
        parts.append("<div class='warn'><p><b>No control author.</b> This study cannot say the following about her "
                     "(set <code>control_corpus</code> to another person's writing in her register, and train "
                     "it):</p><ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in WITHOUT_CONTROL)
                     + "</ul></div>")
    if missing:
        parts.append("<div class='warn'><p><b>Declared primaries not computed</b> (each counts in Holm's family "
                     "with p = 1):</p><ul>" + "".join(f"<li>{html.escape(m['contrast'])}: {html.escape(m['reason'])}"
                                                      "</li>" for m in missing) + "</ul></div>")
    return "\n".join(parts)


def sizes(study) -> list[dict]:
    """Each probe set's size against what the study is sized for, and the smallest effect it can detect."""
    p = study.probes
    kinds: dict[str, int] = {}
    for row in p["instructions"]:
        kinds[row["check"]["kind"]] = kinds.get(row["check"]["kind"], 0) + 1
    chance = 1 / (study.cfg.digidan_samples + 1)
    rows = [("questions (claims 1, 4)", len(p["questions"]), probes_mod.RECOMMENDED["questions"], "paired_proportion", 0.5),
            ("completion openings (claim 3)", len(p["completions"]), probes_mod.RECOMMENDED["completions"],
             "paired_proportion", 0.5),
            ("DigiDan items (claim 3)", len(p["digidan"]), probes_mod.RECOMMENDED["digidan"], "proportion", chance),
            ("instruction probes (claim 2)", len(p["instructions"]),
             probes_mod.RECOMMENDED["per_instruction_kind"] * max(1, len(kinds)), "paired_proportion", 0.5),
            ("new-context probes (claim 2)", len(p["new_context"]), 16, "paired_proportion", 0.5)]
    out = []
    for name, n, wanted, kind, baseline in rows:
        mde = stats.minimum_detectable_effect(n, kind, baseline) if n else math.nan
        out.append({"probe set": name, "n": n, "sized for": wanted, "below size": "yes" if n < wanted else "",
                    "smallest detectable difference (80% power, 5%)": "" if math.isnan(mde) else f"{mde:.0%}"})
    out += held_out_sizes(study)
    if p["digidan"]:
        written = sum(item["source"] == "written" for item in p["digidan"])
        out[2]["probe set"] += f": {written} written answers, {len(p['digidan']) - written} held-out passages"
    return out


# The document-to-document spread of a loss contrast between two authors' arms (sd of per-document mean
# differences, nats per token; known truth, A 100% - B, bench/held_out_power.py): for the detectable difference
KNOWN_TRUTH_DOCUMENT_SD = 0.0143


def held_out_sizes(study) -> list[dict]:
    """Held-out documents per author (claim 1's unit), against the floor `min_held_out_documents`, with the
    smallest loss difference they detect at the known-truth spread: a t test on document means, a floor (the
    study's interval by document, on uneven documents, needs about 40% more: bench/held_out_power.py)."""
    floor = study.cfg.min_held_out_documents
    rows = []
    for whose, held in (("her", study.author_held_out), ("the control author's", study.control_held_out)):
        if whose != "her" and not study.has_control:
            rows.append({"probe set": "held-out documents, the control author's (claim 1)", "n": 0, "sized for": floor,
                         "below size": "no control",
                         "smallest detectable difference (80% power, 5%)": ""})
            continue
        n = len(held)
        mde = stats.minimum_detectable_effect(n, "mean", 0.0, sd=KNOWN_TRUTH_DOCUMENT_SD) if n >= 3 else math.nan
        rows.append({"probe set": f"held-out documents, {whose} (claim 1)", "n": n, "sized for": floor,
                     "below size": "yes" if n < floor else "",
                     "smallest detectable difference (80% power, 5%)":
                         "" if math.isnan(mde) else f"{mde:.3f} nats at best (t test, known-truth spread)"})
    return rows


def provenance(study) -> dict:
    """When, from what code, on which data (its hash, the held-out documents, the corpus it was prepared from
    and the hash each arm was trained on, checked equal when the study opened) and with which settings."""
    from ..train.manifest import git_commit

    cfg = study.cfg
    data = getattr(study, "data", None) or {}
    keys = ["model", "run_name", "generic_corpus", "probe_dir", "authorship_words", "probe_max_new_tokens",
            "instruction_max_new_tokens", "digidan_samples", "bootstrap_samples", "seed"]
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"), "git": git_commit(),
            "data hash": data.get("hash"), "corpus": data.get("corpus") or cfg.corpus,
            "processed_dir": data.get("processed_dir"),
            "held-out documents": (data.get("documents") or {}).get("validation"),
            "data each arm was trained on": data.get("stages"), "arms": study.model_arms, "author": author(cfg),
            **{k: getattr(cfg, k) for k in keys}, "versions": install.versions()}


# --- the author, in the report's words ---------------------------------------------------------------------

# words after "her" that make it the object ("sounds like her rather than ..."), not the possessive ("her words")
OBJECT_AFTER = {"rather", "than", "and", "or", "in", "at", "to", "on", "with", "from", "by", "as", "is", "was", "for",
                "more", "less", "again"}


def author(cfg) -> str:
    """How the report names the author: `author_name`, or "the author" (never a guessed pronoun)."""
    return (getattr(cfg, "author_name", None) or "").strip() or "the author"


def in_words(text: str, cfg=None, markup: bool = False) -> str:
    """Prose about the author (what a measure cannot show, its direction, a claim's notes) in the report's words:
    "she", "her" and "hers" become "the author" / "the author's", or the name set in `author_name` (escaped
    where `text` is HTML already: `markup`)."""
    name = html.escape(author(cfg)) if markup else author(cfg)
    whose = f"{name}'s"

    def her(m: re.Match) -> str:
        after = m.group(2)
        return capital(m.group(1), name if after is None or after.lower() in OBJECT_AFTER else whose)

    text = re.sub(r"\b([Hh]ers)\b", lambda m: capital(m.group(1), whose), text)
    text = re.sub(r"\b([Hh]erself)\b", lambda m: capital(m.group(1), name), text)
    text = re.sub(r"\b([Ss]he)\b", lambda m: capital(m.group(1), name), text)
    text = re.sub(r"\b([Hh]er)\b(?:(?=\s+([A-Za-z][\w-]*)))?", her, text)
    if name != "the author":
        text = re.sub(r"\b([Tt]he author)\b(?!s)", lambda m: capital(m.group(1), name), text)
    return text


def capital(original: str, replacement: str) -> str:
    return replacement[:1].upper() + replacement[1:] if original[:1].isupper() else replacement


def checklist(estimates: pd.DataFrame, contrasts: pd.DataFrame, cfg=None) -> list[dict]:
    out = []
    for section, question, names, where, caveat, answered in CHECKLIST:
        evidence = []
        for name in names:
            chosen = contrasts[contrasts["measure"] == name] if len(contrasts) else contrasts
            for row in chosen.itertuples():
                evidence.append(f"{row.contrast}: {row.mean:+.3g} [{row.ci_low:.3g}, {row.ci_high:.3g}]"
                                + (" (exploratory)" if row.exploratory else ""))
        out.append({"section": section, "question": question, "look at": where,
                    "evidence (paired contrasts)": "; ".join(evidence) or "(qualitative)",
                    "cannot show": in_words(caveat, cfg), "answered by this design": answered})
    return out


def figure_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def save(study, results, extra: dict | None = None, computed: tuple | None = None) -> Path:
    """Every file of the report, written atomically into the run's probe folder; `computed`: what
    `tables(study, results)` returned already (the notebook shows it too), so the bootstrap runs once."""
    folder = study.folder
    estimates, contrasts = computed or tables(study, results)
    headline, missing = primary(contrasts, study.cfg.primary_contrasts, study)
    matched = match_mod.report(study)
    for name, frame in (("measures.csv", estimates), ("contrasts.csv", contrasts)):
        with storage.atomic_path(folder / name) as tmp:
            frame.to_csv(tmp, index=False)
    storage.write_jsonl(folder / "generations.jsonl", study.arms.records)
    pngs = {}
    for number, result in enumerate(results, 1):
        if result.figure is not None:
            pngs[number] = figure_png(result.figure)
            storage.write_bytes(folder / f"claim{number}.png", pngs[number])
    items = checklist(estimates, contrasts, study.cfg)
    made, sized = provenance(study), sizes(study)
    storage.write_json(folder / "report.json", {
        "provenance": made, "authorship_check": study.check.as_dict(), "primary": headline.to_dict(orient="records"),
        "primary_missing": missing, "primary_family": len(dict.fromkeys(study.cfg.primary_contrasts)),
        "without_control": [] if study.has_control else WITHOUT_CONTROL, "match": matched, "sizes": sized,
        "measures": estimates.to_dict(orient="records"),
        "contrasts": contrasts.to_dict(orient="records"), "checklist": items, "config": study.cfg.as_dict(),
        "notes": {r.claim: r.notes for r in results}, **(extra or {})})
    storage.write_text(folder / "report.html", page(study, results, estimates, contrasts, headline, missing, items,
                                                    pngs, made, sized, matched))
    return folder


def cell(row) -> str:
    return f"{row['mean']:.3g} [{row['ci_low']:.3g}, {row['ci_high']:.3g}]"


def check_html(check, reason: str = "", cfg=None) -> str:
    """Whether the authorship measure can speak of the author here: its mode and its own check (or why it was
    not fitted)."""
    return in_words(check_text(check, reason), cfg, markup=True)


def check_text(check, reason: str) -> str:
    verdict = ("<b>It passes its own check here.</b>" if check.fit else
               f"<b class='warn'>Not fitted: {html.escape(reason)}. Every measure built on it is empty.</b>"
               if reason else "<b class='warn'>Unfit: it fails its own check; read nothing into its measures.</b>")
    verdict += (" <span class='warn'>Either way its measures are exploratory: its own check uses authors of other "
                "registers, and on known truth a model tuned on another essayist was called the author's far more "
                "often than the base model (docs/validity.md, <i>Does the study measure what it claims?</i>). "
                "It tells an essayist's voice, not the author's, until it passes a placebo in the author's "
                "register.</span>")
    return (f"<p>Mode: <b>{html.escape(check.mode)}</b>. On text it never saw, at {check.words} words: sensitivity "
            f"{cell(check.sensitivity.as_dict())} (the author's held-out documents), specificity "
            f"{cell(check.specificity.as_dict())} (held-out generic authors: "
            f"{html.escape(', '.join(check.held_out_authors) or 'none')}). {verdict}</p>")


def claim_html(study, result, number: int, estimates=None, contrasts=None, png: bytes | None = None) -> str:
    """Figure, per-arm table, paired contrasts and what the measures cannot show, for one claim."""
    if estimates is None:
        estimates, contrasts = tables(study, [result])
    table, parts = display.html_table, []
    if png is not None:
        data = base64.b64encode(png).decode()
        parts.append(f"<figure><img alt='Figure {number}: claim {html.escape(result.claim)}, each measure by arm with "
                     f"95% intervals' src='data:image/png;base64,{data}' style='max-width:100%'><figcaption>Figure "
                     f"{number}. Claim {html.escape(result.claim)}: each measure by arm, 95% intervals.</figcaption>"
                     "</figure>")
    mine = estimates[estimates["claim"] == result.claim] if len(estimates) else estimates
    parts.append(table([{"measure": r["measure"] + (" (exploratory)" if r["exploratory"] else ""), "arm": r["arm"],
                         "estimate [95% interval]": cell(r), "n": r["n"], "unit": r["unit"],
                         "direction": in_words(str(r["direction"]), study.cfg), "excluded": r["excluded"]}
                        for r in mine.to_dict("records")],
                       title=f"Table {number}a. Each measure by arm"))
    theirs = contrasts[contrasts["claim"] == result.claim] if len(contrasts) else contrasts
    parts.append(table([{"contrast": r["contrast"] + (" (exploratory)" if r["exploratory"] else ""),
                         "difference [95% interval]": cell(r), "p": f"{r['p_value']:.3g}", "n": r["n"]}
                        for r in theirs.to_dict("records")], title=f"Table {number}b. Paired contrasts"))
    words = functools.partial(in_words, cfg=study.cfg)
    parts.append(table([{"measure": m.name, "cannot show": words(m.cannot_show)} for m in result.measures],
                       title=f"Table {number}c. What the measures cannot show"))
    parts += [f"<p class='warn'>{html.escape(words(note))}</p>" for note in result.notes]
    parts += [f"<h3>{html.escape(words(title))}</h3>{body}" for title, body in result.tables.items()]
    return "\n".join(parts)


def show_claim(study, result, number: int) -> None:
    """A claim in the notebook: its figure, then its tables (what the report's section shows)."""
    from IPython.display import HTML, display

    if result.figure is not None:
        display(result.figure)
    display(HTML(claim_html(study, result, number)))


def primary_html(headline, missing) -> str:
    """The declared primaries computed (p and Holm's p over the whole declared family), then those not computed
    with their reasons."""
    rows = [{"contrast": r["contrast"], "difference [95% interval]": cell(r), "n": r["n"], "unit": r["unit"],
             "direction": r["direction"], "p": f"{r['p_value']:.3g}", "p (Holm)": f"{r['p_holm']:.3g}"}
            for r in headline.to_dict(orient="records")]
    out = display.html_table(rows) if rows else "<p>None could be computed.</p>"
    if missing:
        out += ("<p class='warn'>Declared but not computed (each counts in Holm's family with p = 1): "
                + "; ".join(f"{html.escape(m['contrast'])} ({html.escape(m['reason'])})" for m in missing) + ".</p>")
    return out


def page(study, results, estimates, contrasts, headline, missing, items, pngs, made, sized, matched=None) -> str:
    table = display.html_table
    parts = [f"<h1>Probe study: run {html.escape(str(made['run_name']))}</h1>"]
    if study.cfg.model == "tiny":
        parts.append("<p class='warn'><b>Tiny model:</b> these numbers come from the offline stand-in with random "
                     "weights. They show that the study runs, nothing about Llama.</p>")
    parts.append(first_lines_html(study, missing))
    parts += ["<h2>1. Primary contrasts</h2>",
              "<p>Declared in advance (<code>primary_contrasts</code>), each a paired difference between two arms on "
              "the same probes (probes resampled once for all arms), with a 95% interval and Holm-adjusted p-values. "
              "Everything after this section is exploratory.</p>", primary_html(headline, missing),
              f"<h2>2. Can the authorship measure speak of {html.escape(author(study.cfg))} here?</h2>",
              check_html(study.check, study.authorship.reason, study.cfg),
              "<h2>3. Sizes</h2>", table(sized),
              "<h3>The control author: the match the study got</h3>", match_mod.to_html(matched or {})]
    for number, result in enumerate(results, 1):
        parts.append(f"<h2>{number + 3}. Claim {html.escape(result.claim)}</h2>")
        parts.append(claim_html(study, result, number, estimates, contrasts, pngs.get(number)))
    parts += [f"<h2>{len(results) + 4}. The seed study's checklist</h2>", table(items),
              f"<h2>{len(results) + 5}. Provenance</h2>", table([{"item": k, "value": str(v)} for k, v in made.items()])]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
            "content='width=device-width, initial-scale=1'><title>Probe study</title><style>"
            "body{font-family:sans-serif;max-width:80em;margin:1em auto;padding:0 1em}table{border-collapse:collapse;"
            "font-size:.9em;display:block;overflow-x:auto;max-width:100%}td,th{border:1px solid #ddd;padding:4px}"
            ".warn{background:#fee;padding:.4em}</style></head><body>" + "\n".join(parts) + "</body></html>")
