"""What `python -m lib run` checks before it runs a notebook, so that a batch that cannot finish changes nothing.

The notebooks are walked in order as they would run: `01_data` would replace the processed data (refused while
a finished stage of the run that the batch keeps was trained on it), `02_pretrain` and `03_instruct` write a
stage (refused when it is finished and `overwrite` is not set, or when it holds checkpoints that it may neither
resume nor delete; their inputs must be there or made earlier in the batch and be the data the earlier stages
were trained on), and `04_probe_study` needs a finished stage (or `study_base_only`) trained on the data it will
read. The first problem is one line saying what to do; no notebook, executed copy or HTML copy is touched.
"""

from __future__ import annotations

from pathlib import Path

from ..data import processed
from ..files import storage
from ..runtime import runner
from ..settings import config as config_mod
from . import folders, provenance

STAGES = {"02_pretrain": "pretraining", "03_instruct": "instruction"}
STUDY = "04_probe_study"


class BatchError(provenance.ProvenanceError):
    """A batch of notebooks that would stop part-way; nothing was run."""


def notebook_config(parameters: dict, declared: dict):
    """The configuration a notebook will run with: config.yaml, then the parameters it declares."""
    file = storage.resolve(parameters.get("config_file", "config.yaml"))
    return config_mod.load_config(file, **{k: v for k, v in parameters.items() if k in declared and k != "config_file"})


def check_batch(parameters: dict, names: list[str]) -> None:
    """Refuse, before anything runs, a batch whose stages cannot be written or whose inputs are not there."""
    declared = runner.checked(parameters, names)
    configs = {name: notebook_config(parameters, declared[name]) for name in names}
    overwrite = str(parameters.get("overwrite", "")).lower() == "true"
    written: set[str] = set()  # the stages the batch will (re)write
    for name in names:
        if name in STAGES:   # hers, and the control author's where there is one (the notebook trains both)
            written.add(folders.folder_name(STAGES[name], configs[name]))
            if configs[name].init_from != "base" or STAGES[name] == "pretraining":
                written.add(folders.folder_name(STAGES[name], configs[name], control=True))
    data_made = False
    for name in names:
        cfg = configs[name]
        run = storage.run_dir(cfg.run_name)
        if name == "01_data":
            check_data_replaceable(cfg, run, written, overwrite)
            data_made = True
        elif name in STAGES:
            check_stage(cfg, STAGES[name], run, written, data_made)
        elif name == STUDY:
            check_study(cfg, run, written, data_made)


def check_data_replaceable(cfg, run: Path, written: set[str], overwrite: bool) -> None:
    """01_data replaces the processed folder: not under finished stages of this run that the batch keeps."""
    data = storage.processed_dir(cfg).resolve()
    kept = [s for s in provenance.finished_stages(run)
            if s not in written and trained_on(run / s, provenance.data_of(s, data))]
    if kept and not overwrite:
        raise BatchError(f"{data}: 01_data would replace the data that the finished {', '.join(kept)} of run "
                         f"'{run.name}' {'was' if len(kept) == 1 else 'were'} trained on; nothing was run: "
                         f"{WHAT_TO_DO}")


def trained_on(stage_folder: Path, data: Path) -> bool:
    """Whether the finished stage was trained on the processed folder `data` (where it says it read its data, or
    the data that is there now)."""
    recorded = provenance.stage_manifest(stage_folder)["data"]
    if Path(recorded.get("processed_dir") or data).resolve() == data:
        return True
    try:
        return processed.data_hash(processed.manifest_only(data)) == recorded.get("hash")
    except processed.DataError:
        return False


WHAT_TO_DO = ("add --overwrite true (with the training notebooks) to train again, choose another --run_name, or "
              "study the run as it is: --notebooks 04_probe_study")


def check_stage(cfg, stage: str, run: Path, written: set[str], data_made: bool) -> None:
    """The stage may be written (not finished, or `overwrite`; checkpoints resumed or allowed to go), and its
    inputs are there: the processed data (made earlier in the batch, or verified now) and, for stage 2, a
    finished stage 1 trained on that data (or stage 1 earlier in the batch)."""
    name = folders.folder_name(stage, cfg)
    folder = run / name
    check_writable_stage(cfg, run, name)
    if cfg.init_from != "base" or stage == "pretraining":
        check_writable_stage(cfg, run, folders.folder_name(stage, cfg, control=True))
    data = storage.processed_dir(cfg)
    now = None if data_made else provenance.current(data)
    if now is not None:
        processed.check_fits(cfg, stage, processed.manifest_only(data))
        resumed = folders.latest_checkpoint(folder / "checkpoints") if cfg.resume == "auto" else None
        if resumed is not None and not (folder / provenance.MANIFEST).exists():
            provenance.check_resumable(resumed.parent, stage, now)
    if stage == "instruction" and cfg.init_from != "base" and "pretraining" not in written:
        stage1 = run / "pretraining"
        if not (stage1 / provenance.MANIFEST).exists():
            raise BatchError(f"{stage1}: 03_instruct continues stage 1 of run '{run.name}', which has not finished; "
                             "add 02_pretrain to --notebooks, or set --init_from base for the SFT-only arm")
        if now is not None:
            provenance.check_trained_on(stage1, data, processed.FILES[stage], now)


def check_writable_stage(cfg, run: Path, name: str) -> None:
    """The stage folder `name` may be written: not finished (or `overwrite`), its checkpoints resumable or
    allowed to go."""
    folder = run / name
    if (folder / provenance.MANIFEST).exists():
        if not cfg.overwrite:
            raise BatchError(f"{folder}: stage '{name}' of run '{run.name}' is already finished; nothing was run or "
                             f"changed: {WHAT_TO_DO}")
    elif not cfg.resume:
        folders.check_restart(cfg, folder)


def check_study(cfg, run: Path, written: set[str], data_made: bool) -> None:
    """The study has a finished stage to compare (or one trained earlier in the batch, or `study_base_only`),
    and the data it reads is what each stage it keeps was trained on."""
    kept = [s for s in provenance.finished_stages(run) if s not in written]
    if not written:
        provenance.require_finished(run, cfg.study_base_only)
    if kept and not data_made:
        provenance.check_study_data(run, storage.processed_dir(cfg), kept, processed.FILES["pretraining"])
