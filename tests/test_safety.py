"""Nothing lost between runs: locks, the processed-data swap, a changed split, full disks and read-only
folders (real ones, mounted in a private namespace), and secrets passed to papermill directly."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from lib.__main__ import main
from lib.data import prepare, processed
from lib.files import storage
from tests.conftest import ROOT, make_cfg

SECRET = "hf_" + "TESTSECRETdoNotLeak0123456789abcdef"

HOLD = """
import sys, time
from lib.files import locks
locks.acquire(sys.argv[1], "a test run")
print("held", flush=True)
time.sleep(60)
"""


def hold_lock(path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


# --- locks ----------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_second_prepare_on_the_same_processed_dir_fails_at_once(tmp_path, capsys):
    out = tmp_path / "processed"
    holder = hold_lock(tmp_path / ".processed.lock")
    try:
        started = time.time()
        code = main(["prepare", "--model", "tiny", "--processed_dir", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and time.time() - started < 10
        assert len(err.strip().splitlines()) == 1
        assert f"pid {holder.pid} on {socket.gethostname()} since 20" in err and not out.exists()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_a_dead_processs_lock_on_this_machine_is_taken_over(tmp_path, capsys):
    from lib.files import locks

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    path = tmp_path / ".lock"
    path.write_text(json.dumps({"pid": int(gone.stdout), "host": socket.gethostname(), "since": "earlier",
                                "what": "a killed run", "token": "x"}))
    with locks.acquire(path, "this run") as lock:
        assert json.loads(path.read_text())["pid"] == os.getpid() == lock.owner["pid"]
    assert "taking over the lock" in capsys.readouterr().out and not path.exists()


def test_a_lock_from_another_machine_waits_for_its_heartbeat_to_stop(tmp_path):
    from lib.files import locks

    path = tmp_path / ".lock"
    path.write_text(json.dumps({"pid": 1, "host": "colab-vm-elsewhere", "since": "2026-11-30T10:00:00+00:00",
                                "what": "training run 'x'", "token": "x"}))
    with pytest.raises(locks.LockHeld, match=r"pid 1 on colab-vm-elsewhere since 2026-11-30T10:00:00"):
        locks.acquire(path, "this run")
    old = time.time() - locks.STALE_AFTER - 5
    os.utime(path, (old, old))
    locks.acquire(path, "this run").release()


def test_the_lock_file_is_created_exclusively_and_says_who_holds_it(tmp_path):
    from lib.files import locks

    path = tmp_path / "x" / ".lock"
    with locks.acquire(path, "prepare into x") as lock:
        owner = json.loads(path.read_text())
        assert owner["host"] == socket.gethostname() and owner["what"] == "prepare into x"
        assert locks.acquire(path, "again") is lock, "re-entrant within a process"
        lock.release()
        assert path.exists(), "released only as often as taken"
    assert not path.exists()


# --- the processed folder -------------------------------------------------------------------------------

def test_a_kill_between_the_two_renames_loses_no_data(cfg, tiny_tokenizer):
    prepare.run(cfg, tokenizer=tiny_tokenizer, verbose=False)
    folder = processed.folder(cfg)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    os.replace(folder, folder.with_name(".processed.old"))   # what the first rename of the swap leaves, killed after it
    assert processed.read_manifest(cfg)["seed"] == 42
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_staging_left_by_a_killed_run_is_cleaned_and_the_folder_is_not_private(cfg, tiny_tokenizer):
    folder = processed.folder(cfg)
    leftover = folder.parent / ".processed.0123456789ab.staging"
    leftover.mkdir(parents=True)
    (leftover / "pretraining_train.jsonl").write_text("half a file")
    prepare.run(cfg, tokenizer=tiny_tokenizer, verbose=False)
    assert not leftover.exists()
    umask = os.umask(0)
    os.umask(umask)
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask, oct(folder.stat().st_mode)


def test_another_seed_for_one_stage_rebuilds_the_other_and_says_so(cfg, tiny_tokenizer, capsys):
    prepare.run(cfg, tokenizer=tiny_tokenizer, verbose=False)
    manifest = prepare.run(cfg.replace(seed=7), mode="pretraining", tokenizer=tiny_tokenizer, verbose=False)
    assert "the instruction files in" in capsys.readouterr().out
    held = set(manifest["documents"]["validation"])
    folder = processed.folder(cfg)
    for stage in ("pretraining", "instruction"):
        assert {r["document"] for r in storage.read_jsonl(folder / f"{stage}_val.jsonl")} <= held
        assert not {r["document"] for r in storage.read_jsonl(folder / f"{stage}_train.jsonl")} & held
    with pytest.raises(prepare.SplitError, match="needs the base model for backtranslation"):
        prepare.run(cfg.replace(seed=3, backtranslate=True), mode="pretraining", tokenizer=tiny_tokenizer,
                    verbose=False)


@pytest.fixture
def cfg(tmp_path):
    return make_cfg(tmp_path)


# --- real full disks and read-only folders ----------------------------------------------------------------

def isolated(script: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """A shell script in a private mount namespace (`unshare -rm`): what it mounts vanishes with it."""
    if not shutil.which("unshare") or subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode:
        pytest.skip("no private mount namespace here (unshare -rm)")
    return subprocess.run(["unshare", "-rm", "sh", "-ec", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


TRAIN = (f"{sys.executable} -m lib train --stage pretraining --model tiny --load_in_4bit false --max_seq_length 128 "
         "--per_device_train_batch_size 2 --gradient_accumulation_steps 1 --logging_steps 1 --eval_steps 1000 ")


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "processed"
    prepare.run(make_cfg(folder.parent, processed_dir=str(folder), max_seq_length=128), verbose=False)
    return folder


@pytest.mark.slow
def test_a_full_disk_while_training_is_one_line_naming_the_folder(tmp_path, small_data):
    out = tmp_path / "outputs"
    done = isolated(f"mkdir -p {out}/full; mount -t tmpfs -o size=64k tmpfs {out}/full; "
                    f"P4_OUTPUTS={out} {TRAIN} --processed_dir {small_data} --run_name full --max_steps 5 "
                    "--save_steps 1")
    assert done.returncode == 2, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {out}/full/pretraining") and "the disk is full" in last, done.stderr[-3000:]
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_read_only_stage_folder_fails_before_training_starts(tmp_path, small_data):
    out = tmp_path / "outputs"
    stage = out / "ro" / "pretraining"
    stage.mkdir(parents=True)
    done = isolated(f"mount --bind {stage} {stage}; mount -o remount,bind,ro {stage}; "
                    f"P4_OUTPUTS={out} {TRAIN} --processed_dir {small_data} --run_name ro --max_steps 50")
    assert done.returncode == 2, done.stderr[-3000:]
    assert "step 1/" not in done.stdout, "nothing trained"
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {stage}") and "read-only" in last, done.stderr[-3000:]


@pytest.mark.slow
def test_a_full_disk_or_read_only_folder_while_preparing_is_one_line(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    prep = f"{sys.executable} -m lib prepare --model tiny --processed_dir {disk}/processed"
    done = isolated(f"mount -t tmpfs -o size=16k tmpfs {disk}; {prep}")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert f"{disk}/" in last and "the disk is full" in last, last
    done = isolated(f"mount --bind {disk} {disk}; mount -o remount,bind,ro {disk}; {prep}")
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2 and f"{disk}/" in last and "read-only" in last, done.stderr[-3000:]


# --- secrets handed to papermill directly -------------------------------------------------------------------

def papermill_direct(tmp_path, env: dict, *params: str):
    out = tmp_path / "executed.ipynb"
    done = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "01_data.ipynb"), str(out),
                           "--cwd", str(ROOT / "notebooks"), "-p", "model", "tiny", "-p", "processed_dir",
                           str(tmp_path / "p"), *params], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    deadline = time.time() + 30
    while time.time() < deadline and SECRET in out.read_text():  # the watcher's last pass follows papermill's
        time.sleep(0.2)
    return done, out


@pytest.mark.slow
@pytest.mark.parametrize("params", [("-p", "hf_token", SECRET), ("-p", "run_name", SECRET)],
                         ids=["hf_token", "run_name"])
def test_a_token_given_to_papermill_never_stays_in_the_executed_notebook(tmp_path, params):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    done, out = papermill_direct(tmp_path, env, *params)
    assert done.returncode != 0, "the notebook refuses to run with a token as a parameter"
    saved = out.read_text()
    assert SECRET not in saved and SECRET not in done.stdout + done.stderr
    assert "[secret removed]" in saved and "tokens are never notebook parameters" in saved
    assert not (tmp_path / "p").exists(), "nothing was written"


@pytest.mark.slow
def test_a_second_batch_of_the_same_run_fails_at_once(tmp_path, monkeypatch):
    from lib.runtime import runner

    monkeypatch.setenv("P4_OUTPUTS", str(tmp_path / "outputs"))
    holder = hold_lock(tmp_path / "outputs" / "twice" / "notebooks" / ".lock")
    try:
        with pytest.raises(RuntimeError, match=rf"pid {holder.pid} on {socket.gethostname()}"):
            runner.run_notebooks({"model": "tiny", "run_name": "twice"}, ["01_data"])
        assert sorted(p.name for p in (tmp_path / "outputs" / "twice" / "notebooks").iterdir()) == [".lock"]
    finally:
        holder.kill()
        holder.wait()
