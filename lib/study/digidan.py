"""SHIM (replaced by issue-11s)."""
import re
from . import stats

def normalise(t): return " ".join(t.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'").replace("\u2014", " - ").split())

def cut_like(machine, real):
    x = len(real.split()); toks = machine.split()
    for end in range(max(1, x - 5), len(toks) + 1):
        if re.search(r"[.!?][\"')]*$", toks[end - 1]):
            return " ".join(toks[:end])
    return None

def build_items(real_items, sample, n_machine=4, max_tries=12, author_names=()):
    items, counts = [], {"attempts": 0, "excluded_short": 0, "excluded_speaker": 0, "items_dropped": 0}
    for it in real_items:
        got = []
        for k in range(max_tries):
            if len(got) >= n_machine: break
            counts["attempts"] += 1
            c = cut_like(sample(it["question"], k), it["answer"])
            if c is None: counts["excluded_short"] += 1; continue
            got.append(normalise(c))
        if len(got) < n_machine: counts["items_dropped"] += 1; continue
        items.append({"id": it["id"], "question": it["question"], "real": normalise(it["answer"]), "machine": got, "source": it.get("source")})
    return items, counts

def pick_rate(picks, chance):
    e = stats.versus_chance([float(p) for p in picks], chance)
    if e.p_value is not None and e.p_value < 0.05:
        v = "distinguishable: the real answer stands out" if e.mean > chance else "distinguishable: the machine answers look more like the author than the author does"
    else:
        v = "indistinguishable at this sample size"
    return {"estimate": e, "verdict": v}
