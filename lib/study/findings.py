"""The findings, in words, from the numbers: one short paragraph per claim, then a forest plot of the primary
contrasts. What a collaborator reads first, at the top of `report.html` and at the end of 04.

Written from whatever the run holds: the declared `primary_contrasts` (any number, any arms, control arms
included) and each claim's measures. A primary says what was found, its interval, whether it survives Holm's
correction and what its measure cannot show; a primary not computed is named with the reason; a claim
without a primary says that its contrasts are exploratory and how many exclude zero. A number is printed only
where it is a number: an estimate without an interval says why instead (`describe`).
"""

from __future__ import annotations

import base64
import html as html_mod
import re

import pandas as pd

from ..view import display
from .measures import label, not_computed

ALPHA = 0.05
NOTE = "background:#fdeeee;border-left:4px solid #c44e52;padding:.4em .6em;margin:.6em 0"


def escape(text) -> str:
    """Text for HTML content (apostrophes stay apostrophes: the sentences are prose, never attributes)."""
    return html_mod.escape(str(text), quote=False)


def note(inner: str) -> str:
    """A paragraph set apart (a block, so its padding never covers the lines around it); `inner` is HTML."""
    return f"<p class='note' style='{NOTE}'>{inner}</p>"


def records(frame) -> list[dict]:
    return frame.to_dict(orient="records") if isinstance(frame, pd.DataFrame) and len(frame) else list(frame or [])


def why_no_interval(method: str) -> str:
    """The reason an estimate has no interval, in a few plain words (from `stats`' method text)."""
    text = str(method or "")
    if m := re.search(r"no variation in (\w+): all (\d+) values equal", text):
        return f"{label(m[1])} gave the same value on all {m[2]}: no variation"
    if m := re.search(r"all (\d+) (values|differences|document means) equal", text):
        return f"all {m[1]} {m[2]} equal: no variation"
    if "one value" in text or "one response" in text:
        return "one value only"
    if m := re.search(r"(\d+) document\(s\)", text):
        return f"{m[1]} document(s): at least 3 are needed"
    if "too few" in text or "too little" in text:
        return "too few values for an interval"
    if "no probe answered by both" in text:
        return "no probe answered by both arms"
    if "no values" in text or "no picks" in text or "no responses" in text:
        return "no values"
    return text.split(":")[0] or "no interval"


def describe(row: dict, sign: bool = False) -> str:
    """"0.42 [0.31, 0.55]"; "0.42 (no interval: all 12 values equal: no variation)"; "not computed (no
    values)": an estimate as a table shows it, never a NaN."""
    mean = display.number(row.get("mean"), sign=sign)
    if not mean:
        return f"not computed ({why_no_interval(row.get('method'))})"
    span = display.interval(row.get("ci_low"), row.get("ci_high"))
    return f"{mean} {span}" if span else f"{mean} (no interval: {why_no_interval(row.get('method'))})"


def p_text(value) -> str:
    return display.number(value, 2) or "\u2014"


def split_contrast(name: str) -> tuple[str, str, str]:
    """("measure", "arm", "against") from "measure: arm - against" (a measure's name may hold a colon)."""
    measure, _, arms = name.rpartition(": ")
    arm, _, against = arms.partition(" - ")
    return measure, arm, against


def missing_reason(name: str, results, contrasts: list[dict]) -> str:
    """Why a declared primary contrast has no row among the primaries: the measure, an arm, or its numbers."""
    measure_name, arm, against = split_contrast(name)
    measure = next((m for r in results for m in r.measures if m.name == measure_name), None)
    if measure is None:
        return f"no measure named \u201c{measure_name}\u201d in this run"
    if measure.exploratory:
        return "its measure is exploratory here (not validated as a headline)"
    present = {label(a) for a in measure.values}
    absent = [a for a in (arm, against) if a not in present]
    if absent:
        return f"the arm {' and '.join(absent)} is not in this run"
    row = next((r for r in contrasts if r["contrast"] == name), None)
    if row is None:
        return "not among the contrasts this measure makes"
    return why_no_interval(row.get("method"))


def claim_of(name: str, results) -> str | None:
    measure_name = split_contrast(name)[0]
    return next((r.claim for r in results for m in r.measures if m.name == measure_name), None)


def headline_sentence(row: dict, family: int, scale: str) -> str:
    """One primary contrast in words: the difference, its interval, which way it points, and Holm."""
    what = f"<b>{escape(row['measure'])}, {escape(row['arm'])} \u2212 {escape(row['against'])}</b>"
    diff = display.number(row["mean"], sign=True)
    low, high = display.number(row["ci_low"]), display.number(row["ci_high"])
    unit = f" {escape(scale)}" if scale else ""
    if not (low and high):
        return f"{what}: {diff}{unit} (no interval: {escape(why_no_interval(row.get('method')))})."
    if row["ci_low"] > 0 or row["ci_high"] < 0:
        reading = (f"{escape(row['arm'])} {'above' if row['mean'] > 0 else 'below'} {escape(row['against'])} "
                   f"({escape(row['direction'])})")
    else:
        reading = "no difference shown"
    holm = row.get("p_holm")
    survives = display.finite(holm) and holm < ALPHA
    verdict = (f"{'survives' if survives else 'does not survive'} Holm's correction over the {family} "
               f"(p = {p_text(row.get('p_value'))}, adjusted {p_text(holm)})" if family > 1 else
               f"p = {p_text(row.get('p_value'))}, the only primary computed")
    return f"{what}: {diff}{unit} (95% interval {low} to {high}, n = {row['n']}): {reading}; {verdict}."


def grouped(reasons: dict[str, str]) -> str:
    """"<b>a</b>, <b>b</b> (why); <b>c</b> (why)": names that share a reason, given once."""
    by_reason: dict[str, list[str]] = {}
    for name, why in reasons.items():
        by_reason.setdefault(why, []).append(name)
    return "; ".join(", ".join(f"<b>{escape(n)}</b>" for n in names) + f" ({escape(why)})"
                     for why, names in by_reason.items())


def claim_paragraph(result, number: int, headline: list[dict], missing: dict[str, str], contrasts: list[dict],
                    estimates: list[dict], section: str = "", declared: int = 0) -> str:
    """The claim's findings in a few sentences (HTML); `declared`: the size of Holm's family (every declared
    primary, computed or not)."""
    title = result.claim.split(" ", 1)[-1]
    mine = [r for r in headline if r["claim"] == result.claim]
    by_name = {m.name: m for m in result.measures}
    parts = [headline_sentence(r, declared or len(headline), getattr(by_name.get(r["measure"]), "scale", "")) for r in mine]
    if missing:
        parts.append(f"Declared but not computed: {grouped(missing)}.")
    if not mine:
        theirs = [r for r in contrasts if r["claim"] == result.claim]
        clear = [r for r in theirs if display.finite(r.get("ci_low")) and display.finite(r.get("ci_high"))
                 and (r["ci_low"] > 0 or r["ci_high"] < 0)]
        where = f" ({section})" if section else ""
        parts.append(f"Exploratory only{where}: {len(clear)} of its {len(theirs)} paired contrasts exclude zero, "
                     "uncorrected for how many were looked at: leads, not findings.")
    empty = {m.name: not_computed(m) for m in result.measures
             if m.values and not any(r["n"] for r in estimates if r["claim"] == result.claim and r["measure"] == m.name)}
    if empty:
        parts.append(f"Not measured: {grouped(empty)}.")
    caveats = list(dict.fromkeys(by_name[r["measure"]].cannot_show for r in mine
                                 if r["measure"] in by_name and by_name[r["measure"]].cannot_show))
    if not caveats:
        caveats = [next((m.cannot_show for m in result.measures if m.cannot_show and not m.exploratory),
                        next((m.cannot_show for m in result.measures if m.cannot_show), ""))]
    caveats = [c.strip().rstrip(".") for c in caveats if c.strip()]
    if caveats:
        parts.append("It cannot show: " + escape("; ".join(caveats)) + ".")
    return f"<p><b>Claim {number} \u00b7 {escape(title)}.</b> " + " ".join(parts) + "</p>"


def forest_rows(headline: list[dict], results) -> list[dict]:
    scales = {m.name: m.scale for r in results for m in r.measures}
    rows = []
    for r in headline:
        unit = scales.get(r["measure"]) or ""
        rows.append({"label": f"{r['measure']}" + (f" ({unit})" if unit else "") + f"\n{r['arm']} \u2212 {r['against']}",
                     "mean": r["mean"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                     "survives": display.finite(r.get("p_holm")) and r["p_holm"] < ALPHA})
    return rows


def forest_png(headline: list[dict], results) -> bytes | None:
    from ..view import plots
    from .report import figure_png

    rows = forest_rows(records(headline), results)
    return figure_png(plots.forest(rows, "Primary contrasts: paired differences with 95% intervals")) if rows else None


def findings_html(results, headline, missing: list, contrasts, estimates, tiny: bool = False,
                  sections: dict[str, str] | None = None, png: bytes | None = None, authorship: str = "") -> str:
    """The findings: a paragraph per claim, declared primaries no claim holds, and the forest plot;
    `authorship`: a sentence when the authorship measure was not fitted or fails its own check."""
    headline, contrasts, estimates = records(headline), records(contrasts), records(estimates)
    reasons = {}  # declared contrast -> why it was not computed (the study's own reason where it gave one)
    for entry in missing:
        name = entry["contrast"] if isinstance(entry, dict) else entry
        reasons[name] = (entry.get("reason") if isinstance(entry, dict) else "") or missing_reason(name, results,
                                                                                                   contrasts)
    parts = []
    if tiny:
        parts.append(note("<b>Tiny model:</b> every number here comes from the offline stand-in with random weights; "
                          "it shows that the study runs, nothing about Llama."))
    family = len(headline)
    unfitted = f" {escape(authorship)}" if authorship else ""
    parts.append(f"<p>{family} of the {family + len(missing)} contrasts declared in advance could be computed: each "
                 "a paired difference between two arms on the same probes, with its 95% interval, corrected for the "
                 f"others by Holm's method. All else is exploratory.{unfitted}</p>")
    for number, result in enumerate(results, 1):
        own = {n: why for n, why in reasons.items() if claim_of(n, results) == result.claim}
        parts.append(claim_paragraph(result, number, headline, own, contrasts, estimates,
                                     (sections or {}).get(result.claim, ""), family + len(missing)))
    stray = {n: why for n, why in reasons.items() if claim_of(n, results) is None}
    if stray:
        parts.append(f"<p>Declared but not computed: {grouped(stray)}.</p>")
    png = png if png is not None else forest_png(headline, results)
    if png:
        data = base64.b64encode(png).decode()
        parts.append(f"<figure><img alt='Forest plot of the {family} primary contrasts: each paired difference with "
                     f"its 95% interval and a line at zero' src='data:image/png;base64,{data}' style='max-width:100%'>"
                     "<figcaption>The primary contrasts: a dot per paired difference (filled where it survives Holm's "
                     "correction) with its 95% interval; the dashed line is no difference.</figcaption></figure>")
    return "\n".join(parts)


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
    name = html_mod.escape(author(cfg)) if markup else author(cfg)
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
