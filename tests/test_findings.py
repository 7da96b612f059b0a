"""The findings a collaborator reads first, written from the numbers: checked on measures whose values are set
here, so what each paragraph must say is known (a clear difference, one that is not, one that survives Holm and
one that does not, a primary not computed with its reason, an arm without variation, a claim with none)."""

import re

import numpy as np
import pandas as pd

from lib.study import findings, measures
from lib.study.measures import MEAN, PROPORTION, Measure
from lib.study.study import ClaimResult
from lib.view import display, plots

RNG = np.random.default_rng(3)
BASE = list(RNG.normal(3.0, 0.3, 24))


def claim_results():
    loss = Measure("1 inextricability", "loss on held-out author text", "question", MEAN,
                   "lower = predicts her unseen writing better", "prediction of her prose, not her views",
                   scale="nats per token")
    loss.values = {"base": BASE, "pretraining": [v - 0.8 + RNG.normal(0, 0.1) for v in BASE],
                   "instruction": [v + RNG.normal(0, 0.3) for v in BASE]}
    voice = Measure("1 inextricability", "answers called the author's", "answer", PROPORTION, "higher = hers",
                    "voice, not content", exploratory=True)
    voice.values = {"base": [None] * 24, "pretraining": [None] * 24, "instruction": [None] * 24}
    voice.excluded = {arm: {"too short to judge": 24} for arm in voice.values}
    hedges = Measure("4 domination", "hedges per 100 words, relative to the author's", "question", MEAN,
                     "1 = her own rate", "word lists count the surface of caution", bounds=(0.0, np.inf),
                     scale="times her own rate")
    hedges.values = {"base": [0.0] * 20 + [0.9, 1.7, 0.4, 2.2], "instruction": [0.0] * 24}
    hedges.reference = {"her own rate": 1.0}
    return [ClaimResult("1 inextricability", [loss, voice]), ClaimResult("4 domination", [hedges])]


DECLARED = ["loss on held-out author text: stage 1 - base", "loss on held-out author text: stage 1 + 2 - base",
            "answers called the author's: stage 1 + 2 - base", "loss on held-out author text: control - base",
            "no such measure: stage 1 - base"]


def computed():
    results = claim_results()
    estimates = pd.DataFrame([r for c in results for m in c.measures for r in measures.arm_rows(m, 500, 1)])
    contrasts = pd.DataFrame([r for c in results for m in c.measures for r in measures.contrast_rows(m, 500, 1)])
    chosen, missing = measures.primary(contrasts.to_dict("records"), DECLARED)
    return results, estimates, contrasts, pd.DataFrame(chosen), missing


def test_each_claim_gets_a_paragraph_from_its_numbers():
    results, estimates, contrasts, headline, missing = computed()
    page = findings.findings_html(results, headline, missing, contrasts, estimates, tiny=True)
    paragraphs = re.findall(r"<p><b>Claim (\d) \u00b7 (\w+)\.</b>(.*?)</p>", page, re.S)
    assert [(n, name) for n, name, _ in paragraphs] == [("1", "inextricability"), ("2", "domination")]
    first = paragraphs[0][2]
    learned = re.search(r"<b>loss on held-out author text, stage 1 \u2212 base</b>: (\S+) nats per token \(95% interval "
                        r"(\S+) to (\S+), n = 24\): stage 1 below base \(lower = predicts her unseen writing "
                        r"better\); survives Holm's correction over the 5 \(p = ", first)
    assert learned, first
    diff, low, high = (float(x.replace("\u2212", "-")) for x in learned.groups())
    assert -0.9 < low < diff < high < -0.7
    assert "<b>loss on held-out author text, stage 1 + 2 \u2212 base</b>" in first
    assert "no difference shown; does not survive Holm's correction" in first
    assert "the measure is exploratory here" in first, "a declared primary on an exploratory measure: why not"
    assert "no such pair of arms in this run (control - base)" in first
    assert "Not measured: <b>answers called the author's</b> (every value excluded: too short to judge)" in first
    assert "It cannot show: prediction of her prose, not her views." in first
    assert "the measure 'no such measure' was not computed in this run" in page, "a stray primary is named too"
    fourth = paragraphs[1][2]
    assert "Exploratory only" in fourth and "of its 1 paired contrasts exclude zero" in fourth
    assert "Tiny model" in page and "2 of the 5 contrasts declared in advance could be computed" in page
    assert "Forest plot of the 2 primary contrasts" in page
    assert not re.search(r"\b(nan|None|inf)\b", re.sub(r"base64,[^']+", "", page))


def test_an_arm_without_variation_says_so_and_a_rate_stays_above_zero():
    results, estimates, contrasts, _, _ = computed()
    row = contrasts[contrasts.contrast == "hedges per 100 words, relative to the author's: stage 1 + 2 - base"]
    row = row.to_dict("records")[0]
    assert np.isnan(row["ci_low"]) and findings.describe(row, sign=True).startswith("\u2212")
    assert "(no interval: stage 1 + 2 gave the same value on all 24: no variation)" in findings.describe(row)
    base = estimates[(estimates.measure.str.startswith("hedges")) & (estimates.arm == "base")].iloc[0]
    assert base.ci_low >= 0, "a rate never gets an interval below 0"
    assert findings.describe({"mean": float("nan"), "method": "no values"}) == "not computed (no values)"


def test_the_figures_draw_only_what_was_computed_with_units_and_a_legend():
    results, *_ = computed()
    figure = measures.claim_figure(results[0].measures, "Claim 1", 300, 1,
                                   shown=[m.name for m in results[0].measures])
    axes = figure.axes
    assert len(axes) == 1, "the measure with no value gets no panel"
    assert axes[0].get_ylabel() == "nats per token"
    assert "answers called the author's: every value excluded" in " ".join(t.get_text() for t in figure.texts) \
        .replace("\n", " ")
    rate = measures.claim_figure(results[1].measures, "Claim 4", 300, 1)
    assert rate.axes[0].get_legend() is not None and "her own rate" in [t.get_text() for t in
                                                                        rate.axes[0].get_legend().get_texts()]
    assert rate.axes[0].get_ylabel() == "times her own rate"
    assert measures.claim_figure(results[0].measures[1:], "nothing", 300, 1, shown=["answers called the author's"]) \
        is None, "nothing to draw: no figure"
    forest = plots.forest([{"label": "a\nx \u2212 y", "mean": 0.2, "ci_low": 0.1, "ci_high": 0.3, "survives": True},
                           {"label": "b\nx \u2212 y", "mean": 0.0, "ci_low": float("nan"), "ci_high": float("nan"),
                            "survives": False}])
    labels = [t.get_text() for t in forest.legends[0].get_texts()]
    assert "0 = no difference" in labels and "survives Holm" in labels and "unit" in forest.axes[0].get_xlabel()
    rows = [t.get_text() for t in forest.axes[0].texts]
    assert rows == ["b: x \u2212 y (no interval)", "a: x \u2212 y"], "each row labelled above it; drawn bottom up, so the first contrast is on top"


def test_numbers_print_only_when_they_are_numbers():
    assert display.number(float("nan")) == "" and display.number(None) == "" and display.number(float("inf")) == ""
    assert display.number(-0.0482) == "\u22120.0482" and display.number(0.25, sign=True) == "+0.25"
    assert display.number(12345.678) == "1.23e+04" or display.number(12345.678) == "12346"
    assert display.interval(0.1, float("nan")) == "" and display.interval(0.1, 0.2) == "[0.1, 0.2]"
    frame = display.frame([{"a": 1.5, "b": None, "c": "x"}, {"a": float("nan"), "b": "/nowhere/x", "c": None}])
    assert frame["a"].tolist() == ["1.5", display.MISSING] and frame["c"].tolist() == ["x", display.MISSING]
