"""The study's side of the known-truth experiment (bench/validation/known_truth.py): arms that load the base model once
and adapters from several runs under names of our choosing, pools of probes (the default probe sets first),
the study's own measures on them, and the known-truth table with its verdicts (written out by
known_truth_tables.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from pathlib import Path

from bench.validation import calibration
from lib.llm import generation, models
from lib.study.arms import Arms

ARMS = ["base", "A25", "A100", "A300", "B", "shufA", "A100+s2"]
LABELS = {"base": "base (A 0%)", "A25": "A 25%", "A100": "A 100%", "A300": "A 300%", "B": "placebo B",
          "shufA": "shuffled A", "A100+s2": "A 100% + stage 2"}
DOSES = ["base", "A25", "A100", "A300"]
PLACEBOS = ["B", "shufA"]
EXTRA = [("A100", "A25"), ("A300", "A100"), ("A100", "B"), ("A100", "shufA"), ("A100+s2", "A100")]
POOL = {"questions": 500, "completions": 600, "general": 600}
# measure -> (expected direction with dose: +1 rises, -1 falls, 0 none; one of the study's primary contrasts;
# a measure of the author, so that a placebo must leave it flat: forgetting is not, since any tuning forgets)
EXPECTED = {"loss on held-out author text": (-1, True, True), "loss on general text": (+1, False, False),
            "answers called the author's": (+1, True, True), "author probability of answers": (+1, False, True),
            "continuations called the author's": (+1, False, True),
            "continuations copying her training text": (+1, False, True), "continuation ROUGE-L": (+1, False, True),
            "continuations in the first person": (0, False, True), "first-person rate": (0, False, True)}
# the range of a measure's values, for pools written before measures carried it (the H100 run of 2026-11-25)
BOUNDS = {"author probability of answers": (0.0, 1.0), "continuation ROUGE-L": (0.0, 1.0)}
NOT_RUN = {
    "instruction compliance, new-context stance, voice override": "need a chat model: the population model was "
    "never chat-tuned, so every arm but stage 2 meets the chat format for the first time",
    "DigiDan test": "answers to questions in the author's person (a chat model), four samples per item",
    "domination (hedges, boosters, support by passages)": "answers to questions beside retrieved passages (a chat "
    "model's register)"}


class DoseArms(Arms):
    """The base model, and one copy of it per adapter (name -> adapter folder) with the adapter merged in,
    switched by name; generation and scoring are `lib.study.arms.Arms`' own. At 29M parameters a copy per arm
    costs little and decodes twice as fast as switching LoRA layers (generation is the experiment's
    bottleneck); weights stay in fp32, so merging does not round an adapter's small updates away (bf16 would)."""

    def __init__(self, cfg, adapters: dict[str, Path], run: Path, batch: int = 1024):
        import copy

        import torch
        from peft import PeftModel

        self.cfg, self.run, self.records, self.batch = cfg, run, [], batch
        loaded = models.load_model(cfg, torch.float32, backend="hf")
        self.tokenizer, self.model = loaded.tokenizer, loaded.model
        self.copies = {"base": self.model}
        for name, path in adapters.items():
            self.copies[name] = PeftModel.from_pretrained(copy.deepcopy(self.model), str(path)).merge_and_unload()
        self.names = list(self.copies)

    @contextlib.contextmanager
    def use(self, arm: str):
        if arm not in self.copies:
            raise KeyError(f"no arm '{arm}' (arms: {', '.join(self.names)})")
        yield self.copies[arm]

    def generate(self, arm: str, prompts: list, settings, *, probe: str, ids=None, chat: bool = True) -> list[str]:
        """Every probe set in one batch where it fits (the study's 32 would decode the same tokens 20 times)."""
        wide = dataclasses.replace(settings, batch_size=max(settings.batch_size, self.batch))
        return super().generate(arm, prompts, wide, probe=probe, ids=ids, chat=chat)

    def losses(self, arm: str, texts: list[str], window: int = 256, min_tokens: int = 32) -> list[tuple[int, float]]:
        with self.use(arm) as model:
            return generation.window_losses(model, self.tokenizer, texts, window, batch_size=64, min_tokens=min_tokens,
                                            indexed=True)


def general_units(generic: dict[str, list[str]], words: int, limit: int) -> dict[str, list[str]]:
    """Pieces of `words` words of the held-out authors' books, taken from the books in turn (after their first
    1000 words: title pages, prefaces), each a unit of its own for forgetting."""
    books = [(f"{author}/{i}", text.split()[1000:]) for author, texts in sorted(generic.items())
             for i, text in enumerate(texts)]
    out, k = {}, 0
    while len(out) < limit and any(len(t) >= (k + 1) * words for _, t in books):
        for name, tokens in books:
            if len(tokens) >= (k + 1) * words and len(out) < limit:
                out[f"{name}@{k}"] = [" ".join(tokens[k * words:(k + 1) * words])]
        k += 1
    return out


def completion_pool(held_out: dict[str, list[str]], smoke: bool) -> list[dict]:
    """The study's completion openings of the held-out documents (its default set is their first
    `completion_probes`), then openings half a span later (each overlaps its neighbours' text)."""
    from lib.study import probes

    opening, continuation = (20, 40) if smoke else (60, 150)
    first = probes.completion_probes(held_out, 10 ** 6, opening, continuation)
    shift = (opening + continuation) // 2
    shifted = {f"{name}~{shift}": [" ".join(" ".join(parts).split()[shift:])] for name, parts in held_out.items()}
    second = probes.completion_probes(shifted, 10 ** 6, opening, continuation)
    for probe in second:
        probe["document"] = probe["document"].split("~")[0]
    return (first + second)[: 12 if smoke else POOL["completions"]]


def open_study(cfg, adapters: dict[str, Path], work: Path, generic: dict[str, list[str]], smoke: bool):
    """The study over the dose arms, fitted as for a trained run, and the pools of probes."""
    import torch

    from lib.data import processed
    from lib.study import drafting, probes
    from lib.study import study as study_mod

    arms = DoseArms(cfg, adapters, work / "outputs", 1024 if torch.cuda.is_available() else 64)
    folder = drafting.draft(cfg, work / "probes")
    found = probes.read_probes(folder)
    found["author_names"] = []
    train_rows, val_rows, manifest = processed.load_split(cfg, "pretraining")
    general = general_units(generic, 100 if smoke else 700, 12 if smoke else POOL["general"])
    forgetting = study_mod.FORGETTING_UNITS
    study = study_mod.build(cfg, arms, work / "study", found, train_rows, val_rows, generic,
                            dict(list(general.items())[:forgetting]), arms.tokenizer.eos_token)
    more = drafting.draft_questions(val_rows, train_rows, cfg.seed, target=8 if smoke else POOL["questions"])
    questions = list(dict.fromkeys(found["questions"] + more))
    completions = completion_pool(study.author_held_out, smoke)
    n_docs = len(manifest["documents"]["train"]) + len(manifest["documents"]["validation"])
    defaults = {"questions": len(found["questions"]), "completions": cfg.completion_probes,
                "general": forgetting, "documents": max(1, round(type(cfg)().val_fraction * n_docs))}
    if smoke:
        defaults = {k: max(2, min(v, 6)) for k, v in defaults.items()}
    return study, {"questions": questions, "completions": completions, "general": general, "defaults": defaults}


PARTS = ("losses", "completions", "answers")   # measured in this order; results are written after each


def measure_pools(study, pools: dict, part: str) -> list:
    """The study's own measures on the pools, one part at a time: the losses (held-out author text, general
    text), the completions of held-out openings, the answers to the questions (authorship measure)."""
    from lib.study import inextricability, replica

    study.probes["questions"], study.probes["completions"] = pools["questions"], pools["completions"]
    if part == "losses":
        measures = [
            inextricability.loss_measure(study, "loss on held-out author text", study.author_held_out,
                                         "lower = predicts her unseen writing better",
                                         "how well the arm predicts her words, not whether it shares her judgements"),
            inextricability.loss_measure(study, "loss on general text", pools["general"],
                                         "higher than the base model = forgetting",
                                         "prediction of other people's prose, not skills, facts or manners")]
    elif part == "completions":
        measures = replica.completions(study)[0]
    else:
        answers = {arm: study.plain_answers(arm) for arm in study.model_arms}
        measures = inextricability.authorship_measures(study, answers, "answers")
    for measure in measures:
        for arm, values in measure.values.items():
            measure.values[arm] = [None if v is None or math.isnan(v) else float(v) for v in values]
    return measures


def default_size(measure, pools: dict) -> int:
    d = pools["defaults"]
    return {"loss on held-out author text": d["documents"], "loss on general text": d["general"]}.get(
        measure.name, d["questions"] if "answers" in measure.name else d["completions"])


def pool_json(measures: list, pools: dict) -> dict:
    """Every probe's value per arm, what each measure is expected to do, the default sizes: calibration's input."""
    entries = []
    for m in measures:
        sign, primary, _ = EXPECTED.get(m.name, (0, False, True))
        entries.append({"claim": m.claim, "name": m.name, "unit": m.unit, "kind": m.kind, "direction": m.direction,
                        "cannot_show": m.cannot_show, "sign": sign, "primary": primary,
                        "default_size": default_size(m, pools), "values": m.values, "clusters": m.clusters,
                        "bounds": m.bounds, "exploratory": m.exploratory})
    return {"arms": ARMS, "base": "base", "smallest_dose": "A25", "placebos": PLACEBOS, "extra_contrasts": EXTRA,
            "labels": LABELS, "measures": entries}


def table_subset(measure, size: int):
    """The measure on the study's default probe set (the pool's first `size` units; held-out documents: all)."""
    units = calibration.units_of(measure)
    if measure.name != "loss on held-out author text":
        units = units[:size]
    return calibration.take(measure, units), len(units)


def tabulate(measures: list, sizes: dict[str, int], resamples: int, seed: int) -> dict:
    """Each measure per arm on its default probe set, contrasts with the base model and between doses, and the
    verdicts; `sizes`: measure -> default size. Runs from a study or from pool.json alone (any statistics)."""
    from lib.study.measures import arm_rows, contrast_rows

    pairs = [(arm, "base") for arm in ARMS[1:]] + EXTRA
    table, contrasts, verdicts = [], [], []
    for measure in sorted(measures, key=lambda m: list(EXPECTED).index(m.name) if m.name in EXPECTED else 99):
        subset, units = table_subset(measure, sizes[measure.name])
        rows = arm_rows(subset, resamples, seed)
        found = contrast_rows(subset, resamples, seed, pairs=pairs)
        table += rows
        contrasts += found
        verdicts.append(verdict(measure.name, {r["arm"]: r for r in rows},
                                {(r["arm"], r["against"]): r for r in found}) | {"units": units})
    return {"table": table, "contrasts": contrasts, "verdicts": verdicts}


def known_truth(study, measures: list, pools: dict) -> dict:
    """The table and verdicts (`tabulate`), the authorship measure's own check, sizes and examples."""
    sizes = {m.name: default_size(m, pools) for m in measures}
    examples = {arm: {probe: study.cache[(probe, arm)][0][:500] for probe in ("questions", "completion")
                      if (probe, arm) in study.cache} for arm in study.model_arms}
    return {"authorship_check": study.check.as_dict(), "authorship_trained_on": study.authorship.trained_windows,
            "pools": {k: len(v) for k, v in pools.items() if k != "defaults"}, "defaults": pools["defaults"],
            **tabulate(measures, sizes, study.cfg.bootstrap_samples, study.cfg.seed), "examples": examples,
            "completion_example": {"opening": pools["completions"][0]["opening"],
                                   "truth": pools["completions"][0]["truth"]}, "not_run": NOT_RUN}


def verdict(name: str, rows: dict, contrasts: dict) -> dict:
    """Does the measure move the expected way with dose (never against it from 0 to 25, 100 and 300%, the 100%
    and 300% arms detected against the base), and what do the placebos do: flat (interval over 0), toward the
    author (a false author effect) or away from her? It passes when it responds to dose and no placebo moves
    toward the author; `flat` says whether both placebos stayed flat as well."""
    sign, primary, of_author = EXPECTED.get(name, (0, False, True))
    out = {"measure": name, "primary": primary, "expected": {1: "rises", -1: "falls", 0: "no direction"}[sign],
           "author_specific": of_author, "base_units": rows.get("base", {}).get("n")}
    if not sign:
        return out
    means = [rows[a]["mean"] if a in rows else math.nan for a in DOSES]
    monotone = all(sign * (b - a) >= 0 for a, b in zip(means, means[1:])) and sign * (means[-1] - means[0]) > 0
    detected = {a: calibration.significant(contrasts.get((a, "base"), {}), sign) for a in DOSES[1:]}
    placebos = {}
    for arm in PLACEBOS:
        row = contrasts.get((arm, "base"), {})
        placebos[arm] = ("toward A" if calibration.significant(row, sign) else
                         "away from A" if calibration.significant(row, -sign) else "flat")
    dose = monotone and detected["A100"] and detected["A300"]
    thin = rows.get("base", {}).get("n", 0) < max(8, (rows.get("A100", {}).get("n") or 0) // 4)
    if thin:
        out["note"] = (f"the base arm has {rows.get('base', {}).get('n', 0)} scored units: its contrasts rest on "
                       "too few probes to mean anything")
    false_effect = of_author and any(v == "toward A" for v in placebos.values())
    return out | {"monotone": monotone, "detected": detected, "dose_response": dose, "placebos": placebos,
                  "flat": all(v == "flat" for v in placebos.values()), "passes": dose and not false_effect and not thin}


def plain(obj):
    """JSON-ready: numpy scalars as Python numbers, tuples as lists, all the way down."""
    if isinstance(obj, dict):
        return {str(k) if not isinstance(k, str) else k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj.item() if hasattr(obj, "item") and not isinstance(obj, (str, bytes)) else obj
