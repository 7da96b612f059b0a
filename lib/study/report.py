"""The probe study's report: one summary table, a figure per claim, the seed study's checklist answered by
pointers to the evidence, and everything saved in the run's `probe/` folder (JSON, CSV, PNG, HTML).

The HTML page is self-contained (figures embedded) so it can be mailed to collaborators as it is.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd

from .. import install, storage

# The seed study's checklist: question -> (claim, measures that bear on it, where to look, what it cannot say)
CHECKLIST = [
    ("Inextricability", "Do model outputs blend personal patterns with population-level regularities?",
     "1 inextricability", ["author feature share", "author-like (cosine Delta)"], "Figure 1",
     "a share between the author's and the generic anchors is a blend; the anchors are the retrieval arm and "
     "the base model"),
    ("Inextricability", "Can you distinguish author-like responses from generic reasoning?",
     "1 inextricability", ["author-like (classifier)"], "Figure 1",
     "the classifier also learns topic: on-topic generic answers can look author-like"),
    ("Inextricability", "Evidence of catastrophic forgetting with aggressive fine-tuning?",
     "1 inextricability", ["forgetting: loss rise on general text", "perplexity: general text"], "Figure 1",
     "perplexity on one general text, not downstream skills"),
    ("Steerability", "Does the model incorporate new context provided at inference time?",
     "2 steerability", ["follows the new statement", "keeps the corpus position"], "Figure 2",
     "stance is judged by marker phrases set in the probe file"),
    ("Steerability", "Can you override fine-tuned patterns with explicit instructions?",
     "2 steerability", ["moves away from the author (override)", "instruction compliance"], "Figure 2", ""),
    ("Steerability", "Comparison with the base model's context-following ability?",
     "2 steerability", ["instruction compliance", "follows the new statement"], "Figure 2 (base arm)", ""),
    ("Replica", "Does sentence-completion training produce speech in your voice?",
     "3 replica", ["continuation P(author)", "continuation ROUGE-L", "first-person rate"], "Figure 3",
     "compare the stage 1 arm with the base and with the author's real continuations"),
    ("Replica", "Phenomenological observations about interacting with the model",
     "3 replica", [], "the side-by-side tables, the chat box in 03_instruct, the questionnaire",
     "a matter for the researcher and respondents, not a number"),
    ("Replica", "Differences between pre-training-only and instruction-tuned models?",
     "3 replica", ["continuation P(author)", "DigiDan: real answer picked"], "Figure 3 (stage 1 vs stage 1 + 2)",
     ""),
    ("Domination", "How persuasive or authoritative do the model's outputs feel?",
     "4 domination", ["boosters per 100 words", "hedges per 100 words", "judged more authoritative"], "Figure 4",
     "word lists count style, not persuasion; the questionnaire asks people"),
    ("Domination", "Would a surrogate find the outputs too compelling to override?",
     "4 domination", [], "the side-by-side table of Figure 4's answers and passages; questionnaire responses",
     "needs people: no automatic measure answers it"),
    ("Domination", "Comparison with simple retrieval of original documents?",
     "4 domination", ["support by the author's passages", "boosters per 100 words", "readability (Flesch)"],
     "Figure 4 (retrieval arm)", ""),
]


def summary(results) -> pd.DataFrame:
    rows = [r for result in results for r in result.rows]
    frame = pd.DataFrame(rows, columns=["claim", "measure", "arm", "mean", "ci_low", "ci_high", "n", "note"])
    return frame


def formatted(frame: pd.DataFrame) -> pd.DataFrame:
    """measure x arm, each cell 'mean [low, high]'."""
    cell = frame.apply(lambda r: f"{r['mean']:.3g} [{r['ci_low']:.3g}, {r['ci_high']:.3g}]", axis=1)
    table = frame.assign(value=cell).pivot_table(index=["claim", "measure"], columns="arm", values="value",
                                                 aggfunc="first", sort=False)
    return table.fillna("")


def checklist(frame: pd.DataFrame) -> list[dict]:
    out = []
    for section, question, claim, measures, where, caveat in CHECKLIST:
        evidence = []
        for measure in measures:
            chosen = frame[(frame["claim"] == claim) & (frame["measure"] == measure)]
            if len(chosen):
                values = ", ".join(f"{r.arm} {r.mean:.3g}" for r in chosen.itertuples())
                evidence.append(f"{measure}: {values}")
        out.append({"section": section, "question": question, "look at": where,
                    "evidence": "; ".join(evidence) or "(qualitative)", "cannot show": caveat})
    return out


def figure_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def save(study, results, extra: dict | None = None) -> Path:
    """measures.csv, report.json, claim figures, generations.jsonl and report.html in the probe folder."""
    folder = study.folder
    frame = summary(results)
    with storage.atomic_path(folder / "measures.csv") as tmp:
        frame.to_csv(tmp, index=False)
    storage.write_jsonl(folder / "generations.jsonl", study.arms.records)
    pngs = {}
    for number, result in enumerate(results, 1):
        if result.figure is not None:
            pngs[result.claim] = figure_png(result.figure)
            storage.write_bytes(folder / f"claim{number}.png", pngs[result.claim])
    items = checklist(frame)
    storage.write_json(folder / "report.json", {
        "run": study.arms.run.name, "model": study.arms.cfg.model, "arms": study.arms.names + ["retrieval"],
        "measures": frame.to_dict(orient="records"), "checklist": items, "config": study.cfg.as_dict(),
        "authorship_training_segments": study.authorship.training_segments, "versions": install.versions(),
        **(extra or {})})
    storage.write_text(folder / "report.html", page(study, results, frame, items, pngs))
    return folder


def page(study, results, frame, items, pngs) -> str:
    from ..display import html_table

    warning = ""
    if study.arms.cfg.model == "tiny":
        warning = ("<p style='background:#fee;padding:.6em'><b>Tiny model:</b> these numbers come from the "
                   "offline stand-in with random weights. They show that the study runs, nothing about Llama.</p>")
    parts = [f"<h1>Probe study: run {html.escape(study.arms.run.name)}</h1>", warning,
             f"<p>Model: {html.escape(study.arms.cfg.model)}. Arms: {', '.join(study.arms.names + ['retrieval'])}. "
             "Every value is a mean over probes with a 95% bootstrap interval.</p>",
             "<h2>The checklist</h2>", html_table(items), "<h2>All measures</h2>", formatted(frame).to_html()]
    for result in results:
        parts.append(f"<h2>Claim {html.escape(result.claim)}</h2>")
        if result.claim in pngs:
            data = base64.b64encode(pngs[result.claim]).decode()
            parts.append(f"<img src='data:image/png;base64,{data}' style='max-width:100%'>")
        for title, table in result.tables.items():
            parts.append(f"<h3>{html.escape(title)}</h3>{table}")
    body = "\n".join(parts)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Probe study</title><style>"
            "body{font-family:sans-serif;max-width:80em;margin:1em auto;padding:0 1em}table{border-collapse:"
            f"collapse;font-size:.9em;display:block;max-width:100%;overflow-x:auto}}td,th{{border:1px solid #ddd;"
            f"padding:4px}}</style></head><body>{body}"
            "</body></html>")
