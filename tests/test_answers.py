"""The probe study's answers are stored as they end: a process killed mid-generation loses at most the batch
being decoded, a rerun makes only what is missing (and makes what an uninterrupted run makes), a changed
setting, adapter or prompt is never answered from the store, and after the study's one pass the claims ask
for nothing new (except the judge, whose prompts quote other answers)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import types

import pytest

from lib.llm import generation
from lib.study import answers, probes
from tests.conftest import ROOT

SETTINGS = generation.GenerationSettings(max_new_tokens=48, min_new_tokens=48, batch_size=8)


def lines(folder) -> int:
    """Readable answer lines in a store folder."""
    count = 0
    for path in folder.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                json.loads(line)
                count += 1
            except json.JSONDecodeError:
                pass
    return count


def test_a_torn_last_line_is_skipped_and_never_swallows_the_next(tmp_path):
    store = answers.Store(tmp_path)
    path = store.path("instruction", "abc")
    store.append(path, [{"key": "k1", "answer": "one"}])
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"key": "k2", "answer": "tw')  # killed while writing
    fresh = answers.Store(tmp_path)
    assert fresh.answers(path) == {"k1": "one"} and fresh.torn == 1
    fresh.append(path, [{"key": "k3", "answer": "three"}])
    assert answers.Store(tmp_path).answers(path) == {"k1": "one", "k3": "three"}


def test_the_key_covers_everything_an_answer_depends_on():
    base = dict(base="tiny", adapter="a1", probe="questions", probe_id="q1", text="prompt", settings=SETTINGS,
                chat=True)
    key = answers.answer_key(**base)
    changed = [dict(base="other"), dict(adapter="a2"), dict(probe="override"), dict(probe_id="q2"),
               dict(text="prompt!"), dict(chat=False), dict(settings=generation.GenerationSettings(max_new_tokens=49)),
               dict(settings=generation.GenerationSettings(**{**SETTINGS.as_dict(), "seed": 1}))]
    for change in changed:
        assert answers.answer_key(**{**base, **change}) != key, change
    wider = generation.GenerationSettings(**{**SETTINGS.as_dict(), "batch_size": 64})
    assert answers.answer_key(**{**base, "settings": wider}) == key, "the batch size changes speed, not answers"


def test_an_adapters_identity_is_a_hash_of_its_weights(tmp_path):
    from lib.study.arms import Arms

    weights = tmp_path / "pretraining" / "adapter" / "adapter_model.safetensors"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"first weights")
    first = Arms.identity(types.SimpleNamespace(run=tmp_path), "pretraining")
    weights.write_bytes(b"retrained weights")
    assert Arms.identity(types.SimpleNamespace(run=tmp_path), "pretraining") != first
    assert Arms.identity(types.SimpleNamespace(run=tmp_path), "base") == "base"


CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from lib.llm import generation
    from lib.settings import config
    from lib.study import answers
    from lib.study.arms import Arms
    cfg = config.load_config(Path({root!r}) / "config.yaml", **json.loads(sys.argv[1]))
    arms = Arms(cfg)
    arms.store = answers.Store(Path(sys.argv[2]))
    settings = generation.GenerationSettings(**json.loads(sys.argv[3]))
    prompts = json.loads(sys.argv[4])
    answers.answer(arms, [answers.Request("instruction", "resume", prompts, None, settings)])
""")


@pytest.mark.slow
def test_a_killed_generation_loses_at_most_one_batch_and_the_rerun_makes_the_rest(tiny_run, tmp_path):
    from lib.study.arms import Arms

    prompts = [f"Question {i}: what does a surrogate owe the patient's story, part {i}?" for i in range(40)]
    folder = tmp_path / "answers"
    overrides = {k: getattr(tiny_run.cfg, k) for k in ("model", "load_in_4bit", "max_seq_length", "processed_dir",
                                                        "run_name")}
    with tiny_run.outputs() as outputs:
        env = {**os.environ, "P4_OUTPUTS": str(outputs)}
        child = subprocess.Popen([sys.executable, "-c", CHILD.format(root=str(ROOT)), json.dumps(overrides),
                                  str(folder), json.dumps(SETTINGS.as_dict()), json.dumps(prompts)], cwd=ROOT, env=env)
        deadline = time.time() + 600
        while child.poll() is None and time.time() < deadline:
            if lines(folder) >= 16:  # two batches stored: the third is being decoded
                os.kill(child.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        child.wait()
        assert child.returncode == -signal.SIGKILL, "killed mid-way, not finished"
        kept = lines(folder)
        assert 16 <= kept < len(prompts) and kept % 8 == 0, f"whole batches kept: {kept}"
        request = answers.Request("instruction", "resume", prompts, None, SETTINGS)
        arms = Arms(tiny_run.cfg)
        arms.store = answers.Store(folder)
        made = []
        real = generation.answer

        def counted(*args, **kwargs):
            made.append(len(args[2]))
            return real(*args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(generation, "answer", counted)
            resumed = answers.answer(arms, [request])[0]
        assert sum(made) == len(prompts) - kept, "only the missing answers are made"
        assert lines(folder) == len(prompts)
        arms.store = answers.Store(tmp_path / "uninterrupted")
        assert resumed == answers.answer(arms, [request])[0], "the answers an uninterrupted run makes (greedy)"


@pytest.fixture(scope="module")
def small_study(tiny_run, tmp_path_factory):
    """The tiny run's study with a few probes of each kind (the judge on), opened once: every answer made."""
    from lib.study import study as study_mod

    folder = tmp_path_factory.mktemp("probes")
    for name in probes.PROBE_FILES.values():
        (folder / name).write_text((ROOT / "data/probes" / name).read_text())
    probes.keep_few(folder, each=2, questions=4, cap=48)
    cfg = tiny_run.cfg.replace(probe_dir=str(folder), probe_max_new_tokens=40, instruction_max_new_tokens=48,
                               authorship_words=20, bootstrap_samples=100, judge=True, digidan_samples=2,
                               digidan_items=2, completion_probes=3, run_name="tiny-run")
    with tiny_run.outputs():
        yield cfg, study_mod.open_study(cfg)


@pytest.mark.slow
def test_after_the_one_pass_the_claims_ask_nothing_new_and_a_rerun_makes_nothing(small_study, tiny_run):
    from lib.study import domination, inextricability, replica, steerability
    from lib.study import study as study_mod

    cfg, study = small_study
    asked = []
    real = answers.answer

    def counted(arms, requests, progress=False):
        out, missing = answers.rows_of(arms, requests)
        asked.extend(row.record["probe"] for row in missing)
        return real(arms, requests, progress)

    with tiny_run.outputs(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(answers, "answer", counted)
        for module in (inextricability, steerability, replica, domination):
            module.run(study)
        assert asked and all(probe.startswith("judge_") for probe in asked), set(asked)
        asked.clear()
        again = study_mod.open_study(cfg)  # a rerun of 04: new process state, same run folder
        assert asked == [], "everything the one pass makes is found in the store"
        assert again.ask("base", study.probes["questions"], "questions",
                         [f"q{i}" for i in range(len(study.probes["questions"]))]) == study.ask(
            "base", study.probes["questions"], "questions", [f"q{i}" for i in range(len(study.probes["questions"]))])
        longer = cfg.replace(probe_max_new_tokens=44)
        study_mod.open_study(longer)
        assert "questions" in asked and "completion" in asked, "another setting: answered anew, never reused"
