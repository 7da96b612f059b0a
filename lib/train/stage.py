"""A training stage from start to finish, in the steps the notebooks show as cells: check the inputs and plan
(`check_and_plan`), load the base model and add or continue LoRA (`load_with_lora`), build the trainer
(`build_trainer`), train with the live curve and save (`run`); `train_stage` is all of them in one call.

Stage 1 ("pretraining") trains LoRA adapters by next-token loss on the author's chunks, packed without
letting one chunk attend to another. Stage 2 ("instruction") continues the stage-1 adapter on the
question-answer pairs, packed the same way, with loss on the answers only; with `init_from: base` it starts
from the base model instead and is saved as the "sft_only" arm. Each stage is a folder of the run (see
`folders`):

    checkpoints/   every `save_steps`, each quarter of the stage and every `save_minutes` (on Drive on Colab;
                   `resume: auto`, the default, continues from the newest whole one)
    training_data.json  the processed data the training started on (a resume on other data is refused)
    adapter/       the final LoRA adapter and tokenizer
    log_history.json, loss.png, manifest.json (written last: it marks the stage finished; it records the
                   data trained on, which stage 2 and the study check: `provenance`)

The same functions run in a notebook, from `python -m lib train`, and in every process of
`accelerate launch` (data parallel): only the main process writes files.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..data import processed
from ..files import storage
from ..llm import hardware, models
from ..settings import sample
from ..view import plots
from . import callbacks, folders, lora, manifest, matching, provenance, quiet, settings, speedups, tracking
from .folders import TITLES, StageError  # noqa: F401  (StageError: what callers catch)
from .trainer import make_trainer


@dataclass
class StageResult:
    stage: str
    folder: Path
    adapter: Path
    log_history: list[dict]
    seconds: float
    tokens: int
    plan: hardware.Plan
    backend: str
    parameters: dict
    resources: dict
    model: object = field(default=None, repr=False)       # the trained PEFT model, ready to generate
    tokenizer: object = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.folder.name


@dataclass
class StageSetup:
    """Everything decided before the first step: shown by the notebook, then handed to `run`."""
    cfg: object
    stage: str
    name: str
    folder: Path
    checkpoint: Path | None
    init_adapter: Path | None
    plan: hardware.Plan
    backend: str
    lora: dict
    parameters: dict
    rows: dict
    data_manifest: dict
    trainer: object = field(repr=False)
    tokenizer: object = field(repr=False)
    lock: object = field(default=None, repr=False)   # the run's lock, given back when training ends
    environ: dict = field(default_factory=dict, repr=False)  # the trackers' (may hold the W&B key): decided once
    data: dict = field(default_factory=dict, repr=False)     # the processed data's record (what the manifest keeps)
    matched_to: dict | None = None   # the control author's stage: her stage it is matched to (steps, tokens)

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def settings(self) -> list[dict]:
        """The settings this stage trains with: the hardware plan's choices and the LoRA shape in effect
        (a continued adapter's), beside the configured value where the two differ."""
        cfg, plan = self.cfg, self.plan
        rows = [
            ("stage", TITLES[self.name], None),
            ("model", cfg.model, None),
            ("backend", self.backend, None),
            ("hardware profile", f"{plan.profile} on {plan.device}", cfg.hardware_profile),
            ("precision", plan.precision, cfg.precision),
            ("load_in_4bit", plan.load_in_4bit, cfg.load_in_4bit),
            ("batch", f"{plan.micro_batch} x {plan.gradient_accumulation} accumulation"
                      + (f" x {plan.processes} processes" if plan.processes > 1 else "")
                      + f" = {plan.effective_batch}",
             f"{cfg.per_device_train_batch_size} x {cfg.gradient_accumulation_steps}"),
            ("gradient_checkpointing", plan.gradient_checkpointing, cfg.gradient_checkpointing),
            ("attention", plan.attention, cfg.attn_implementation),
            ("torch_compile", plan.compile, cfg.torch_compile),
            ("lora_r", self.lora["r"], cfg.lora_r),
            ("lora_alpha", self.lora["lora_alpha"], cfg.lora_alpha),
            ("lora_dropout", self.lora["lora_dropout"], None),
            ("lora_target_modules", ", ".join(self.lora["target_modules"]), ", ".join(sorted(cfg.lora_target_modules))),
            ("max_seq_length", cfg.max_seq_length, None),
            ("learning_rate", cfg.learning_rate, None),
            ("num_train_epochs", cfg.num_train_epochs, None),
            ("max_steps", cfg.max_steps, None),
            ("seed", cfg.seed, None),
            *([("matched to", matching.describe(self.matched_to), None)] if self.matched_to else []),
            ("starts from", str(self.init_adapter or "the base model"), None),
            ("resumes from", str(self.checkpoint or "-"), None),
            ("train rows", self.rows["train rows"], None),
            ("validation rows", self.rows["validation rows"], None),
            ("trainable parameters", f"{self.parameters['trainable']:,} of {self.parameters['total']:,} "
                                     f"({self.parameters['trainable_percent']}%)", None),
        ]
        return [{"setting": name, "in effect": str(value),
                 "configured": "" if configured is None or str(configured) == str(value) else str(configured)}
                for name, value, configured in rows]


@dataclass
class StagePlan:
    """What is decided before the model loads (step 1): every input checked, the hardware plan made, the run's
    lock held. Handed to `load_with_lora` and `build_trainer`."""
    cfg: object
    stage: str
    name: str
    path: Path
    replacing: bool        # a finished stage that `overwrite` replaces, once every input has passed
    checkpoint: Path | None
    restart: bool          # an unfinished stage started again from step 0
    init_adapter: Path | None
    lora: dict
    backend: str
    plan: hardware.Plan
    train_rows: list = field(repr=False)
    val_rows: list = field(repr=False)
    data_manifest: dict = field(repr=False)
    data: dict = field(repr=False)
    environ: dict = field(default_factory=dict, repr=False)
    lock: object = field(default=None, repr=False)
    matched_to: dict | None = None

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()


@dataclass
class StageModel:
    """The base model with LoRA added or continued (step 2), its tokenizer and the backend that loaded it."""
    model: object = field(repr=False)
    tokenizer: object = field(repr=False)
    backend: str


def setup_stage(cfg, stage: str, extra_callbacks: list | None = None, progress: bool = True,
                control: bool = False) -> StageSetup:
    """The three steps before training in one call (the command line and tests): `check_and_plan`,
    `load_with_lora`, `build_trainer`. The notebooks run them as cells of their own."""
    planned = check_and_plan(cfg, stage, control)
    return build_trainer(planned, load_with_lora(planned), extra_callbacks, progress)


def check_and_plan(cfg, stage: str, control: bool = False) -> StagePlan:
    """Step 1: check every input and pick the hardware plan, before anything is loaded, written or deleted. With
    `control`, the control author's same stage: her settings on his data, as many steps as hers took
    (`matching`).

    The run's lock is taken first (a second run of the same run_name stops at once, saying who holds it). Checked:
    the stage is not finished (or is to be replaced), the checkpoint to resume is whole and of this stage, the
    adapter to continue is whole, the data fits, the LoRA shape matches, the folder is writable. A failed check
    gives the lock back.
    """
    import datasets

    datasets.disable_progress_bars()
    cfg = processed.in_force(cfg)  # the corpus the processed data was prepared from, wherever the stage is run
    name = folders.folder_name(stage, cfg, control)
    lock = folders.lock(cfg) if is_main_process() else None
    try:
        matched = None
        if control:
            cfg, matched = matching.control_config(cfg, stage)
        planned = _plan(cfg, stage, name, control)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    planned.lock, planned.matched_to = lock, matched
    return planned


def _plan(cfg, stage: str, name: str, control: bool) -> StagePlan:
    path = storage.run_dir(cfg.run_name) / name
    replacing = cfg.overwrite and (path / "manifest.json").exists()
    if is_main_process():
        folders.check_unfinished(path, cfg.run_name, name, cfg.overwrite, resume=bool(cfg.resume))
        if not control:   # his stages ask no questions side by side
            sample.warn(cfg, "compare_prompts")
    # a stage being replaced has nothing to resume automatically; a checkpoint named explicitly still counts
    checkpoint = None if replacing and cfg.resume == "auto" else folders.resume_point(cfg, path)
    restart = checkpoint is None and not replacing and folders.check_restart(cfg, path)
    init_adapter = folders.starting_adapter(cfg, stage, control)
    data_folder = processed.folder(cfg)
    train_rows, val_rows, data_manifest = processed.load_split_at(data_folder, stage)
    processed.check_fits(cfg, stage, data_manifest)
    data = check_data(stage, data_folder, data_manifest, init_adapter, checkpoint)
    shape = lora.lora_settings(cfg, init_adapter)
    lora.check_resume_shape(checkpoint, shape)
    if is_main_process():
        storage.check_writable(path)
    backend = models.choose_backend(cfg)
    plan = hardware.plan(cfg, compilable=settings.packs(cfg, stage) and backend == "hf",
                         examples_per_row=settings.examples_per_row(cfg, stage, train_rows))
    if is_main_process():
        print(plan.describe())
    return StagePlan(cfg, stage, name, path, replacing, checkpoint, restart, init_adapter, shape, backend, plan,
                     train_rows, val_rows, data_manifest, data, tracking.environ(cfg, path, name))


@contextlib.contextmanager
def lock_given_back_on_failure(planned: StagePlan) -> Iterator[None]:
    """A step that fails gives the run's lock back, so that the notebook's cells can be run again from step 1."""
    try:
        yield
    except BaseException:
        planned.release()
        raise


def load_with_lora(planned: StagePlan) -> StageModel:
    """Step 2: the base model as planned (precision, 4-bit, attention, backend), with LoRA added, or the adapter
    this stage continues loaded to train on; the LoRA weights are drawn now, so the same seed gives the same
    adapter."""
    cfg, plan = planned.cfg, planned.plan
    with lock_given_back_on_failure(planned), quiet.known_noise_silenced(), storage.scoped_environ(planned.environ):
        loaded = models.load_model(cfg, hardware.torch_dtype(plan.precision), planned.backend, plan.load_in_4bit,
                                   plan.attention)
        set_seed(cfg.seed)
        model = lora.add_lora(loaded, cfg, plan.gradient_checkpointing, planned.init_adapter, lean=cfg.lean_lora)
    return StageModel(model, loaded.tokenizer, loaded.backend)


def build_trainer(planned: StagePlan, loaded: StageModel, extra_callbacks: list | None = None,
                  progress: bool = True) -> StageSetup:
    """Step 3: the stage's folder (every input has passed: only now may a finished stage be replaced), the data
    it starts on recorded, and the trainer with its live curve and its checkpoints by steps and by minutes."""
    cfg, plan, name = planned.cfg, planned.plan, planned.name
    with lock_given_back_on_failure(planned):
        with quiet.known_noise_silenced(), storage.scoped_environ(planned.environ):
            folder = folders.stage_dir(cfg.run_name, name, replace=planned.replacing and is_main_process())
            if is_main_process():
                begin_training(folder, planned.checkpoint, planned.restart, planned.data)
            args = settings.sft_config(cfg, planned.stage, folder / "checkpoints", plan, bool(planned.val_rows),
                                       loaded.backend, planned.checkpoint is not None)
            progress_callbacks = callbacks.progress_callbacks(TITLES[name]) if progress else []
            saving = [callbacks.SaveOften(cfg.save_minutes, settings.CHECKPOINTS_PER_STAGE)]
            val_rows = planned.val_rows
            trainer = make_trainer(loaded.model, loaded.tokenizer, args,
                                   to_dataset(planned.train_rows, planned.stage, cfg.chat_date),
                                   to_dataset(val_rows, planned.stage, cfg.chat_date) if val_rows else None,
                                   progress_callbacks + saving + (extra_callbacks or []),
                                   cfg.max_seq_length if plan.compile else None)
        lora.set_adapter_dtype(trainer.model, plan.precision, cfg.lean_lora)
        if plan.compile:
            speedups.compile_layers(trainer.model)
    return StageSetup(cfg, planned.stage, name, folder, planned.checkpoint, planned.init_adapter, plan,
                      loaded.backend, planned.lora, lora.parameter_counts(loaded.model),
                      {"train rows": len(planned.train_rows), "validation rows": len(val_rows)},
                      planned.data_manifest, trainer, loaded.tokenizer, planned.lock, planned.environ, planned.data,
                      planned.matched_to)


def check_data(stage: str, data_folder: Path, data_manifest: dict, init_adapter: Path | None,
               checkpoint: Path | None) -> dict:
    """The processed data's record, once it is known to be what the adapter this stage continues was trained
    on, and what the checkpoints it resumes were trained on."""
    data = processed.record(data_folder, data_manifest)
    if init_adapter is not None:
        provenance.check_trained_on(init_adapter.parent, data_folder, processed.FILES[stage], data)
    if checkpoint is not None and checkpoint.parent.name == "checkpoints":
        provenance.check_resumable(checkpoint.parent, stage, data)
    return data


def begin_training(folder: Path, checkpoint: Path | None, restart: bool, data: dict) -> None:
    """A training from step 0 clears what an earlier one left (allowed by `folders.check_restart`) and records
    the data it starts on beside its checkpoints; a resumed one keeps both."""
    import shutil

    if checkpoint is not None:
        return
    if restart:
        print(f"starting the stage again: the checkpoints in {folder / 'checkpoints'} are deleted")
        shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    provenance.record_start(folder, data)


def set_seed(seed: int) -> None:
    from transformers import set_seed as seed_everything

    seed_everything(seed)


def to_dataset(rows: list[dict], stage: str, chat_date: str):
    """Only the columns the trainer reads; chat rows carry the fixed template date."""
    from datasets import Dataset

    if stage == "pretraining":
        return Dataset.from_list([{"text": r["text"]} for r in rows])
    return Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"],
                               "chat_template_kwargs": {"date_string": chat_date}} for r in rows])


def run(setup: StageSetup) -> StageResult:
    """Train, then save the adapter, the log, the curve and the manifest (main process only); the run's
    lock is given back at the end, whatever happens."""
    try:
        return _run(setup)
    finally:
        setup.release()


def _run(setup: StageSetup) -> StageResult:
    cfg, trainer = setup.cfg, setup.trainer
    if is_main_process() and setup.checkpoint is not None:
        print(f"resuming from {storage.shown_path(setup.checkpoint)}")
    hardware.reset_peak_memory()
    started = time.time()
    try:
        with quiet.known_noise_silenced(), speedups.eager_fallback(setup.plan.compile), \
                storage.scoped_environ(setup.environ), \
                folders.write_failures(setup.folder, "training saved a checkpoint"):
            trainer.train(resume_from_checkpoint=str(setup.checkpoint) if setup.checkpoint else None)
    finally:
        speedups.after_training(trainer.model)
    seconds = time.time() - started
    history = trainer.state.log_history
    tokens = trainer.total_tokens()
    training = seconds - trainer.eval_seconds - trainer.save_seconds
    resources = hardware.resources(training, tokens)
    resources["evaluation_seconds"] = round(trainer.eval_seconds, 1)
    resources["checkpoint_seconds"] = round(trainer.save_seconds, 1)
    resources["first_step_seconds"] = trainer.first_step_seconds
    resources["steady_tokens_per_second"] = trainer.steady_tokens_per_second(training)
    adapter = setup.folder / "adapter"
    if is_main_process():
        with folders.write_failures(setup.folder, "the stage was saved"):
            save(setup, adapter, history, resources)
    if is_main_process() and (where := tracking.describe(cfg, setup.folder)):
        print(where)
    trainer.accelerator.wait_for_everyone()
    return StageResult(setup.stage, setup.folder, adapter, history, seconds, tokens, setup.plan, setup.backend,
                       setup.parameters, resources, trainer.model, setup.tokenizer)


def save(setup: StageSetup, adapter: Path, history: list[dict], resources: dict) -> None:
    """The adapter, the log, the curve, and last the manifest that marks the stage finished."""
    cfg, trainer = setup.cfg, setup.trainer
    trainer.model.save_pretrained(str(adapter))
    setup.tokenizer.save_pretrained(str(adapter))
    storage.write_json(setup.folder / "log_history.json", history)
    plots.save(plots.loss_curve(history, TITLES[setup.name]), setup.folder / "loss.png")
    storage.write_json(setup.folder / "manifest.json", {
        "stage": setup.stage, "arm": setup.name, "run_name": cfg.run_name, "backend": setup.backend,
        "author": processed.CONTROL if setup.matched_to else processed.AUTHOR, "matched_to": setup.matched_to,
        "init_adapter": str(setup.init_adapter) if setup.init_adapter else None,
        "resumed_from": str(setup.checkpoint) if setup.checkpoint else None,
        "steps": trainer.state.global_step, "final": manifest.final_losses(history),
        "parameters": setup.parameters, "lora": setup.lora, "plan": setup.plan.as_dict(),
        "resources": resources, "config": cfg.as_dict(),
        "data": {**setup.data, **setup.rows},
        "versions": manifest.package_versions(), "git": manifest.git_commit(),
        "machine": hardware.describe_machine(),
    })


def train_stage(cfg, stage: str, extra_callbacks: list | None = None, progress: bool = True,
                control: bool = False) -> StageResult:
    """`setup_stage` then `run`: one call for the command line and tests."""
    return run(setup_stage(cfg, stage, extra_callbacks, progress, control))


def train_control(cfg, stage: str, progress: bool = True) -> StageResult | None:
    """The control author's same stage, trained by the same code on his data for as many steps as hers took;
    None, said in one line, where 01_data prepared no control author."""
    if not processed.has_control(cfg):
        print("no control author in this run (control_corpus is not set): the study will say which claims it "
              "cannot make about her")
        return None
    return train_stage(cfg, stage, progress=progress, control=True)


def authors(cfg) -> list[bool]:
    """Whose stage a notebook trains, in order: hers, then the control author's where 01_data prepared one
    (the `control` flag of `setup_stage`); his is matched to hers, so it comes second."""
    return [False, True] if processed.has_control(cfg) else [False]


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0
