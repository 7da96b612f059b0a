"""The probe study's report: the findings first (a paragraph per claim in words, a forest plot of the primary
contrasts), a table of contents, then the primary contrasts, each claim's numbered figure and tables (the long
ones folded), the sizes the study rests on, the seed study's checklist answered by pointers to the contrasts,
and provenance.

Saved in the run's `probe/` folder: `report.html` (self-contained: figures embedded, no scripts), `report.json`,
`measures.csv` (an estimate per measure and arm), `contrasts.csv` (every paired contrast), `claimN.png`,
`primary.png` (the forest plot) and `generations.jsonl` (every answer with its arm, probe and settings).
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

from ..files import storage
from ..runtime import install
from ..view import display
from . import match as match_mod
from . import findings
from . import measures as measures_mod
from . import probes as probes_mod
from . import stats
from .arms import LABELS
from .checklist import CHECKLIST, checklist  # noqa: F401  (the report's; tests read them here)
from .findings import author, in_words  # noqa: F401



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
        parts.append(in_words("<div class='note'><p><b>No control author.</b> This study cannot say the following "
                              "about her (set <code>control_corpus</code> to another person's writing in her "
                              "register, and train it):</p><ul>"
                              + "".join(f"<li>{html.escape(line)}</li>" for line in WITHOUT_CONTROL) + "</ul></div>",
                              getattr(study, "cfg", None), markup=True))
    if missing:
        parts.append("<div class='note'><p><b>Declared primaries not computed</b> (each counts in Holm's family "
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
# differences, nats per token; known truth, A 100% - B, bench/validation/held_out_power.py): for the detectable difference
KNOWN_TRUTH_DOCUMENT_SD = 0.0143


def held_out_sizes(study) -> list[dict]:
    """Held-out documents per author (claim 1's unit), against the floor `min_held_out_documents`, with the
    smallest loss difference they detect at the known-truth spread: a t test on document means, a floor (the
    study's interval by document, on uneven documents, needs about 40% more: bench/validation/held_out_power.py)."""
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
    forest = findings.forest_png(headline, results)
    if forest:
        storage.write_bytes(folder / "primary.png", forest)
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
                                                    pngs, made, sized, matched, forest))
    return folder


def findings_html(study, results, estimates, contrasts) -> str:
    """The findings as the report opens with them (the 04 notebook ends with the same)."""
    headline, missing = primary(contrasts, study.cfg.primary_contrasts, study)
    return first_lines_html(study, missing) + findings.findings_html(results, headline, missing, contrasts, estimates, study.cfg.model == "tiny",
                                  section_names(results), authorship=unfitted(study))


def unfitted(study) -> str:
    """A sentence for the findings when the authorship measure cannot speak here, else ""."""
    if study.check is None or study.check.fit:
        return ""
    if study.authorship.reason:
        return (f"The authorship measure could not be fitted ({study.authorship.reason}), so the measures built on it "
                "are empty.")
    return "The authorship measure fails its own check here: read nothing into the measures built on it."


def section_names(results) -> dict[str, str]:
    return {r.claim: f"section {n + 3}" for n, r in enumerate(results, 1)}


def cell(row) -> str:
    return findings.describe(row)


def check_html(check, reason: str = "", cfg=None) -> str:
    """Whether the authorship measure can speak of the author here: its mode and its own check (or why it was
    not fitted)."""
    return in_words(check_text(check, reason), cfg, markup=True)


def check_text(check, reason: str) -> str:
    note = findings.note
    verdict = ("<p><b>It passes its own check here.</b></p>" if check.fit else
               note(f"<b>Not fitted: {html.escape(reason)}.</b> Every measure built on it is empty.") if reason
               else note("<b>Unfit: it fails its own check;</b> read nothing into its measures."))
    verdict += note("Either way its measures are exploratory: its own check uses authors of other registers, and on "
                    "known truth a model tuned on another essayist was called the author's far more often than the "
                    "base model (docs/validity.md, <i>Does the study measure what it claims?</i>). It tells an "
                    "essayist's voice, not the author's, until it passes a placebo in the author's register.")
    return (f"<p>Mode: <b>{html.escape(check.mode)}</b>. On text it never saw, at {check.words} words: sensitivity "
            f"{cell(check.sensitivity.as_dict())} (the author's held-out documents), specificity "
            f"{cell(check.specificity.as_dict())} (held-out generic authors: "
            f"{html.escape(', '.join(check.held_out_authors) or 'none')}).</p>{verdict}")


NOT_A_NUMBER = re.compile(r"(<t[dh][^>]*>)\s*(?:nan|NaN|None|inf|-inf|NaN%|nan%)\s*(</t[dh]>)")


def folded(title: str, body: str) -> str:
    """A long table behind its title: open it to read it (a report stays a few screens long)."""
    rows = body.count("<tr") - body.count("<thead")
    size = f" ({rows} rows)" if rows > 0 else ""
    body = NOT_A_NUMBER.sub(lambda m: m[1] + display.MISSING + m[2], body)
    return f"<details><summary>{html.escape(title)}{size}</summary>\n{body}</details>"


def claim_html(study, result, number: int, estimates=None, contrasts=None, png: bytes | None = None) -> str:
    """Figure, per-arm table, paired contrasts and what the measures cannot show, for one claim; the long tables
    of answers folded."""
    if estimates is None:
        estimates, contrasts = tables(study, [result])
    table, parts = display.html_table, []
    if png is not None:
        data = base64.b64encode(png).decode()
        parts.append(f"<figure><img alt='Figure {number}: claim {html.escape(result.claim)}, each measure by arm with "
                     f"95% intervals' src='data:image/png;base64,{data}' style='max-width:100%'><figcaption>Figure "
                     f"{number}. Claim {html.escape(result.claim)}: each measure by arm, 95% intervals.</figcaption>"
                     "</figure>")
    elif result.figure is None:
        parts.append(findings.note(f"Figure {number}: no measure of this claim has a value to draw (the tables say "
                                   "why)."))
    mine = estimates[estimates["claim"] == result.claim] if len(estimates) else estimates
    parts.append(table([{"measure": r["measure"] + (" (exploratory)" if r["exploratory"] else ""), "arm": r["arm"],
                         "estimate [95% interval]": cell(r), "n": r["n"], "unit": r["unit"],
                         "direction": in_words(str(r["direction"]), study.cfg), "excluded": r["excluded"]}
                        for r in mine.to_dict("records")],
                       title=f"Table {number}a. Each measure by arm"))
    theirs = contrasts[contrasts["claim"] == result.claim] if len(contrasts) else contrasts
    parts.append(table([{"contrast": r["contrast"] + (" (exploratory)" if r["exploratory"] else ""),
                         "difference [95% interval]": findings.describe(r, sign=True),
                         "p": findings.p_text(r["p_value"]), "n": r["n"]}
                        for r in theirs.to_dict("records")], title=f"Table {number}b. Paired contrasts"))
    words = functools.partial(in_words, cfg=study.cfg)
    parts.append(table([{"measure": m.name, "cannot show": words(m.cannot_show)} for m in result.measures],
                       title=f"Table {number}c. What the measures cannot show"))
    parts += [findings.note(html.escape(words(text))) for text in result.notes]
    parts += [folded(words(title), body) for title, body in result.tables.items()]
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
    rows = [{"contrast": r["contrast"], "difference [95% interval]": findings.describe(r, sign=True), "n": r["n"],
             "unit": r["unit"], "direction": r["direction"], "p": findings.p_text(r["p_value"]),
             "p (Holm)": findings.p_text(r["p_holm"])} for r in headline.to_dict(orient="records")]
    out = display.html_table(rows) if rows else "<p>No declared primary contrast could be computed.</p>"
    if missing:
        out += findings.note("Declared but not computed (each counts in Holm's family with p = 1): "
                             + "; ".join(f"{html.escape(m['contrast'])} ({html.escape(m['reason'])})"
                                         for m in missing) + ".")
    return out


def provenance_rows(made: dict) -> list[dict]:
    """Provenance as a reader wants it: lists joined, versions as "name version" pairs that never break."""
    shown = []
    for key, value in made.items():
        if isinstance(value, dict):
            value = " \u00b7 ".join(f"{k}\u00a0{v}" for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        shown.append({"item": key, "value": value})
    return shown


def links(folder: Path) -> str:
    """The run's other files, linked from the report's folder (those that exist)."""
    files = [("generations.jsonl", "every answer, with its arm, probe and settings"),
             ("measures.csv", "every estimate"), ("contrasts.csv", "every paired contrast"),
             ("report.json", "all of it, with the configuration"),
             ("questionnaire.html", "the blinded questionnaire to send to people"),
             ("../notebooks/04_probe_study.html", "the notebook that made this report"),
             ("../notebooks/library.log", "warnings and notices of the libraries, kept out of the pages")]
    batch = (folder.parent / "notebooks").is_dir()  # a batch run: its HTML copies are written there when it ends
    items = [f"<li><a href='{html.escape(name)}'>{html.escape(Path(name).name)}</a>: {what}</li>"
             for name, what in files if (folder / name).exists() or (batch and name.endswith(".html")
                                                                      and name.startswith("../notebooks/"))]
    return f"<ul>{''.join(items)}</ul>" if items else ""


STYLE = """
body{font-family:sans-serif;line-height:1.45;max-width:80em;margin:1em auto;padding:0 1em;overflow-wrap:normal}
img{max-width:100%;height:auto}
table{border-collapse:collapse;font-size:.9em;display:block;overflow-x:auto;max-width:100%;margin:.6em 0}
td,th{border:1px solid #ddd;padding:4px}
caption{caption-side:top}
.note{background:#fdeeee;border-left:4px solid #c44e52;padding:.4em .6em;margin:.6em 0}
details{margin:.6em 0}
summary{cursor:pointer;font-weight:bold}
nav ol{columns:2 18em}
figure{margin:1em 0}
figcaption{font-size:.9em;color:#444}
"""


def page(study, results, estimates, contrasts, headline, missing, items, pngs, made, sized, matched=None,
         forest=None) -> str:
    table = display.html_table
    sections = [("primary", "Primary contrasts"), ("authorship", f"Can the authorship measure speak of {html.escape(author(study.cfg))}?"),
                ("sizes", "Sizes")]
    sections += [(f"claim-{n}", f"Claim {html.escape(r.claim)}") for n, r in enumerate(results, 1)]
    sections += [("checklist", "The seed study's checklist"), ("provenance", "Provenance and files")]
    heading = {key: f"<h2 id='{key}'>{n}. {title}</h2>" for n, (key, title) in enumerate(sections, 1)}
    parts = [f"<h1>Probe study: run {html.escape(str(made['run_name']))}</h1>",
             "<h2 id='findings'>Findings</h2>", first_lines_html(study, missing),
             findings.findings_html(results, headline, missing, contrasts, estimates, study.cfg.model == "tiny",
                                    section_names(results), forest, unfitted(study)),
             "<nav><h2>Contents</h2><ol>" + "".join(f"<li><a href='#{key}'>{title}</a></li>" for key, title in sections)
             + "</ol></nav>",
             heading["primary"],
             "<p>Declared in advance (<code>primary_contrasts</code>), each a paired difference between two arms on "
             "the same probes (probes resampled once for all arms), with a 95% interval and Holm-adjusted p-values. "
             "Everything after this section is exploratory.</p>", primary_html(headline, missing),
             heading["authorship"], check_html(study.check, study.authorship.reason, study.cfg),
             heading["sizes"], table(sized),
             "<h3>The control author: the match the study got</h3>", match_mod.to_html(matched or {})]
    for number, result in enumerate(results, 1):
        parts.append(heading[f"claim-{number}"])
        parts.append(claim_html(study, result, number, estimates, contrasts, pngs.get(number)))
    parts += [heading["checklist"], table(items), heading["provenance"], links(study.folder),
              table(provenance_rows(made))]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width, initial-scale=1'><title>Probe study</title><style>{STYLE}</style></head>"
            "<body>" + "\n".join(parts) + "</body></html>")
