"""Whether a stage, a resumed training or a study works on the data its earlier stages were trained on.

A finished stage's manifest records the processed data it trained on (`lib.data.processed.record`: the hash,
the split, each file's sha256, the settings it was prepared with); a stage that starts training writes the
same record beside its checkpoints (`training_data.json`). Whatever builds on a stage (stage 2 on stage 1,
a resumed training on its checkpoints, the study on every arm) compares that record with the data now in the
processed folder and refuses in one line, naming both hashes and what to do, when it is not the same data or
when a document now held out was trained on.

Every check takes the stage folder and the processed folder as arguments, so it serves any stage of a run
trained on any processed folder.
"""

from __future__ import annotations

from pathlib import Path

from ..data import processed
from ..files import storage
from .folders import ARMS, CONTROL, LABELS, StageError

MANIFEST = "manifest.json"
STARTED = "training_data.json"  # beside the checkpoints: the data a training started on
REQUIRED = ("stage", "config.model", "data.hash")


class ProvenanceError(StageError):
    """Data that is not what a stage was trained on, or a run with nothing trained; says what to do."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this one line instead of a traceback
        return [f"{type(self).__name__}: {self}"]


def stage_manifest(stage_folder: Path) -> dict:
    """A finished stage's manifest, with what the checks read (one line naming it if it is damaged)."""
    return storage.read_record(Path(stage_folder) / MANIFEST, REQUIRED,
                               todo="train that stage again (overwrite: true), or restore the file")


def current(data: Path) -> dict:
    """The record of the processed folder `data` as it is now, every file verified against its sha256."""
    return processed.record(data, processed.read_manifest_at(data))


def check_trained_on(stage_folder: Path, data: Path, reads: tuple[str, ...] = (), now: dict | None = None) -> dict:
    """Refuse when the processed folder `data` is not the data the finished stage in `stage_folder` was trained
    on: the split must be the same (no held-out document trained on), and of the files the reader `reads`,
    those the stage trained on must be byte-identical. Returns the stage's manifest."""
    manifest = stage_manifest(stage_folder)
    now = now or current(data)
    files = tuple(f for f in processed.FILES.get(manifest["stage"], ()) if f in reads)
    if problem := processed.mismatch(manifest["data"], now, files):
        label = LABELS.get(Path(stage_folder).name, Path(stage_folder).name)
        raise ProvenanceError(refusal(Path(stage_folder) / MANIFEST, f"{label} was", manifest["data"], now, problem))
    return manifest


def check_resumable(checkpoints: Path, stage: str, now: dict) -> None:
    """Refuse to resume checkpoints that were trained on other data than the processed folder now holds."""
    path = checkpoints.parent / STARTED
    if not path.exists():
        return  # checkpoints of an older version: nothing recorded to compare with
    recorded = storage.read_record(path, ("hash",), todo="delete it to resume without the check")
    if problem := processed.mismatch(recorded, now, processed.FILES[stage]):
        raise ProvenanceError(refusal(path, "the checkpoints beside it were", recorded, now, problem, restart=True))


def record_start(stage_folder: Path, now: dict) -> None:
    """Write the data a training starts on beside its checkpoints (what `check_resumable` compares)."""
    storage.write_json(Path(stage_folder) / STARTED, now)


def refusal(where: Path, label: str, recorded: dict, now: dict, problem: str, restart: bool = False) -> str:
    """One line: what was trained on which data, what the processed folder holds now, and what to do."""
    changed = processed.settings_changed(recorded, now)
    again = (f"re-run 01_data with the settings that data was prepared with ({processed.prepare_command(changed)})"
             if changed else "re-run 01_data on the corpus as it was (its settings are unchanged: the text changed)")
    other = "start the stage again (resume: null, overwrite: true)" if restart else "start a new run_name"
    return (f"{where}: {label} trained on data {str(recorded.get('hash'))[:12]}, but {now['processed_dir']} now "
            f"holds {now['hash'][:12]} ({problem}); {again}, or {other}")


# --- runs -------------------------------------------------------------------------------------------------

def finished_stages(run: Path) -> list[str]:
    """The stage folders of a run that finished (their manifest exists), in the study's order."""
    return [name for name in ARMS if (Path(run) / name / MANIFEST).exists()]


def require_finished(run: Path, base_only: bool = False) -> list[str]:
    """The run's finished stages; none is an error unless the base model alone is asked for (a typo in a run
    name would otherwise study the base model for minutes and create the run's folder)."""
    found = finished_stages(run)
    if found or base_only:
        return found
    others = sorted(p.parent.name for p in Path(run).parent.glob(f"*/{ARMS[0]}/{MANIFEST}"))
    hint = f" (runs with a finished stage here: {', '.join(others[:8])})" if others else ""
    raise ProvenanceError(f"{run}: run '{Path(run).name}' has no finished stage ({', '.join(ARMS)}){hint}; train "
                          "one with 02_pretrain under this run_name, check the name, or set study_base_only: true to "
                          "study the base model alone")


def data_of(stage_name: str, data: Path) -> Path:
    """The processed folder a stage of a run trains on: the author's `data`, or the control's inside it."""
    return Path(data) / processed.CONTROL if stage_name.startswith(CONTROL) else Path(data)


def check_study_data(run: Path, data: Path, stages: list[str], reads: tuple[str, ...]) -> dict:
    """The data record a study works on, after checking it against every finished stage it compares (the
    control author's stages against his data): with the hash each stage was trained on (what the report's
    provenance shows)."""
    now = {folder: current(folder) for folder in {data_of(name, data) for name in stages} | {Path(data)}}
    trained = {name: check_trained_on(Path(run) / name, data_of(name, data), reads, now[data_of(name, data)])
               ["data"]["hash"] for name in stages}
    return {**now[Path(data)], "stages": trained}
