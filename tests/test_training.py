"""The training stages on the tiny model, CPU: real SFTTrainer, real PEFT, real files."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lib.data import prepare, processed
from lib.files import storage
from lib.llm import generation, hardware, models
from lib.settings import config
from lib.train import export, folders, lora, speedups
from lib.train import manifest as run_manifest
from lib.train import stage as training
from lib.train.packing import RowPackedCollator
from tests.conftest import ROOT

FAST = dict(model="tiny", load_in_4bit=False, max_seq_length=128, per_device_train_batch_size=4,
            gradient_accumulation_steps=1, learning_rate=2e-2, warmup_ratio=0.0, logging_steps=5, eval_steps=10,
            save_steps=10)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("processed")
    cfg = config.load_config(ROOT / "config.yaml", **FAST, processed_dir=str(folder))
    prepare.run(cfg, verbose=False)
    return folder


@pytest.fixture
def cfg(data_dir, outputs):
    return config.load_config(ROOT / "config.yaml", **FAST, processed_dir=str(data_dir), run_name="r")


def logits(model, tokenizer, text="The narrative self at the bedside."):
    batch = tokenizer([text], return_tensors="pt")
    model.eval()
    with torch.no_grad():
        return model(**batch).logits


# --- the two stages -----------------------------------------------------------------------------------

def test_stage1_lowers_eval_loss_and_saves_a_complete_stage(cfg):
    result = training.train_stage(cfg.replace(max_steps=40), "pretraining", progress=False)
    final = run_manifest.final_losses(result.log_history)
    assert final["eval_loss"] < final["first_eval_loss"] - 0.5, final
    folder = result.folder
    for name in ("adapter/adapter_config.json", "adapter/adapter_model.safetensors", "adapter/tokenizer.json",
                 "log_history.json", "loss.png", "manifest.json", "checkpoints/checkpoint-40"):
        assert (folder / name).exists(), name
    manifest = json.loads((folder / "manifest.json").read_text())
    data_manifest = json.loads((Path(cfg.processed_dir) / "manifest.json").read_text())
    assert manifest["data"]["hash"] == processed.data_hash(data_manifest)
    assert manifest["versions"]["transformers"] and manifest["versions"]["trl"] and manifest["versions"]["peft"]
    assert len(manifest["git"]["commit"]) in (40, 7) or manifest["git"]["commit"] == "unknown"
    assert manifest["machine"]["torch"] == torch.__version__ and manifest["plan"]["profile"] == "cpu"
    assert manifest["steps"] == 40 and manifest["backend"] == "hf"
    assert 0 < manifest["parameters"]["trainable"] < manifest["parameters"]["total"]


def test_stage2_continues_stage1_and_lowers_loss_on_held_out_pairs(cfg):
    stage1 = training.train_stage(cfg.replace(max_steps=10), "pretraining", progress=False)
    setup = training.setup_stage(cfg.replace(max_steps=60), "instruction", progress=False)
    assert setup.init_adapter == stage1.adapter
    # the stage-1 adapter's weights are where training starts
    from safetensors.torch import load_file

    saved = load_file(str(stage1.adapter / "adapter_model.safetensors"))
    state = {k: v for k, v in setup.trainer.model.state_dict().items() if "lora_A" in k}
    key = next(k for k in saved if "lora_A" in k)
    match = next(v for k, v in state.items() if k.replace(".default", "") == key)
    assert torch.equal(match, saved[key])
    result = training.run(setup)
    final = run_manifest.final_losses(result.log_history)
    assert final["eval_loss"] < final["first_eval_loss"], final
    assert result.folder.name == "instruction" and (result.folder / "adapter").exists()
    assert (stage1.folder / "adapter" / "adapter_model.safetensors").exists()  # stage 1 kept apart


def test_sft_only_arm_starts_from_the_base_model(cfg):
    result = training.train_stage(cfg.replace(max_steps=2, init_from="base"), "instruction", progress=False)
    assert result.folder.name == "sft_only"
    assert json.loads((result.folder / "manifest.json").read_text())["init_adapter"] is None


def test_stage2_trains_the_shape_of_the_adapter_it_continues_and_shows_it(cfg):
    training.train_stage(cfg.replace(max_steps=1, lora_r=4, lora_alpha=8), "pretraining", progress=False)
    setup = training.setup_stage(cfg.replace(max_steps=1), "instruction", progress=False)
    shown = {row["setting"]: row for row in setup.settings()}
    assert (shown["lora_r"]["in effect"], shown["lora_r"]["configured"]) == ("4", "16"), "what is shown is what trains"
    assert shown["lora_alpha"]["in effect"] == "8" and setup.trainer.model.peft_config["default"].r == 4
    assert shown["precision"]["in effect"] == "fp32" and shown["precision"]["configured"] == "auto"
    assert shown["load_in_4bit"]["in effect"] == "False"
    with pytest.raises(lora.AdapterMismatch, match=r"lora_r = 16 was set, but the adapter .* has r = 4"):
        training.setup_stage(cfg.replace(max_steps=1, lora_r=16), "instruction", progress=False)
    with pytest.raises(lora.AdapterMismatch, match=r"lora_target_modules = \['q_proj'\] was set"):
        training.setup_stage(cfg.replace(max_steps=1, lora_target_modules=["q_proj"]), "instruction", progress=False)


def test_chunks_cut_for_a_longer_window_are_a_one_line_error(cfg):
    with pytest.raises(processed.DataError, match=r"chunks are up to 128 tokens but max_seq_length is 64"):
        training.setup_stage(cfg.replace(max_seq_length=64), "pretraining", progress=False)
    with pytest.raises(processed.DataError, match=r"tokenised for model 'tiny'.*trains 'some/other-model'"):
        training.setup_stage(cfg.replace(model="some/other-model"), "pretraining", progress=False)


def test_instruction_stage_needs_a_finished_stage1(cfg):
    with pytest.raises(folders.StageError, match="stage 1 of run 'r' has not finished"):
        training.train_stage(cfg.replace(max_steps=2), "instruction", progress=False)


def test_a_finished_stage_is_never_overwritten_silently(cfg):
    training.train_stage(cfg.replace(max_steps=1), "pretraining", progress=False)
    with pytest.raises(folders.RunExistsError, match="already finished.*overwrite=True"):
        training.train_stage(cfg.replace(max_steps=1), "pretraining", progress=False)
    again = training.train_stage(cfg.replace(max_steps=2, overwrite=True), "pretraining", progress=False)
    assert json.loads((again.folder / "manifest.json").read_text())["steps"] == 2


# --- labels (stage 2's masking, packed and padded: tests/test_stage2_packing.py) ----------------------------

def test_the_tuned_tiny_model_learns_to_stop_at_eot(cfg, tmp_path):
    folder = tmp_path / "short"
    questions = ["Is it so?", "Do you agree?", "Is that right?", "Would you say yes?", "Shall we?", "Really?"]
    rows = [{"prompt": [{"role": "user", "content": q}], "completion": [{"role": "assistant", "content": "Yes."}],
             "document": "d.txt", "category": "c", "source": "test"} for q in questions]
    shutil.copytree(Path(cfg.processed_dir), folder)
    storage.write_jsonl(folder / "instruction_train.jsonl", rows * 4)
    storage.write_jsonl(folder / "instruction_val.jsonl", rows[:2])
    manifest = storage.read_json(folder / "manifest.json")  # files written by hand: their sha256 recorded too
    for name in ("instruction_train.jsonl", "instruction_val.jsonl"):
        manifest["files"][name]["sha256"] = storage.sha256(folder / name)
    storage.write_json(folder / "manifest.json", manifest)
    result = training.train_stage(cfg.replace(processed_dir=str(folder), max_steps=120, init_from="base",
                                              learning_rate=3e-2), "instruction", progress=False)
    tok, model = result.tokenizer, result.model
    prompt = generation.chat_text(tok, "Do you agree?", chat_date=cfg.chat_date)
    batch = tok([prompt], return_tensors="pt", add_special_tokens=False)
    out = model.generate(**batch, max_new_tokens=20, do_sample=False, eos_token_id=models.stop_token_ids(tok),
                         pad_token_id=tok.pad_token_id)[0, batch["input_ids"].shape[1]:].tolist()
    eot = tok.convert_tokens_to_ids("<|eot_id|>")
    assert eot in out and len(out) < 20, tok.decode(out)
    assert tok.decode(out[: out.index(eot)]).strip() == "Yes."


# --- packing ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("attention", ["sdpa", pytest.param("flex_attention", marks=pytest.mark.slow)])
def test_packed_chunks_do_not_attend_to_each_other(cfg, attention):
    setup = training.setup_stage(cfg.replace(max_steps=1, per_device_train_batch_size=4,
                                             attn_implementation=attention), "pretraining", progress=False)
    assert setup.trainer.model.config._attn_implementation == attention
    pad = setup.tokenizer.pad_token_id   # of the batches, the one packing most chunks (blocks that are not padding)
    batch = max(setup.trainer.get_train_dataloader(),
                key=lambda b: int(((b["position_ids"] == 0) & (b["input_ids"] != pad)).sum()))
    assert "attention_mask" not in batch and batch["input_ids"].shape[0] == 4, "one packed row per example"
    assert batch["input_ids"].shape[1] <= cfg.max_seq_length
    model = setup.trainer.model.eval()
    eos = setup.tokenizer.eos_token_id
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits
    chunks = 0
    for row in range(4):
        ids, pos, labels = batch["input_ids"][row], batch["position_ids"][row], batch["labels"][row]
        starts = (pos == 0).nonzero().flatten().tolist() + [len(pos)]
        for a, b in zip(starts, starts[1:]):
            if (ids[a:b] == pad).all():  # the padded tail: its own block, no labels
                assert (labels[a:b] == -100).all()
                continue
            with torch.no_grad():
                alone = model(input_ids=ids[None, a:b]).logits[0]
            torch.testing.assert_close(packed[row, a:b], alone, atol=1e-4, rtol=1e-4)
            assert ids[b - 1] == eos, "each packed chunk ends with its EOS"
            assert labels[a] == -100 and (labels[a + 1:b] == ids[a + 1:b]).all()
            chunks += 1
    assert chunks > 4, "rows hold several chunks"


# --- adapters -----------------------------------------------------------------------------------------

def test_a_saved_adapter_reloads_to_the_same_logits(tiny_run):
    from peft import PeftModel

    result, cfg = tiny_run.stage1, tiny_run.cfg
    trained = logits(result.model, result.tokenizer)
    base, tok = models.load_base(cfg)
    before = logits(base, tok)
    reloaded = PeftModel.from_pretrained(base, str(result.adapter))
    torch.testing.assert_close(logits(reloaded, tok), trained, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(before, trained, atol=1e-3), "the adapter changed the model"


def test_merged_16bit_export_matches_the_adapter(tiny_run, tmp_path):
    result, cfg = tiny_run.stage1, tiny_run.cfg
    out = export.export_merged(cfg, result.adapter, tmp_path / "merged", dtype=torch.float32)
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(out)
    torch.testing.assert_close(logits(merged, result.tokenizer), logits(result.model, result.tokenizer),
                               atol=1e-4, rtol=1e-4)
    assert json.loads((out / "config.json").read_text())["dtype"] == "float32", "saved in the dtype asked for"
    assert export.merged_dtype() == torch.bfloat16, "by default bf16 (fp16 on a T4), never 4-bit"
    assert not any("lora" in k for k in merged.state_dict())


def test_gguf_export_needs_unsloth(cfg):
    with pytest.raises(models.BackendError, match="GGUF export needs unsloth"):
        export.export_gguf(cfg, Path("unused"), Path("unused"))


# --- 4-bit on CPU ---------------------------------------------------------------------------------

def test_the_4bit_path_trains_a_few_steps(cfg):
    result = training.train_stage(cfg.replace(load_in_4bit=True, max_steps=3, eval_steps=3, logging_steps=1), "pretraining",
                                  progress=False)
    kinds = {p.__class__.__name__ for p in result.model.parameters()}
    assert "Params4bit" in kinds, "the base weights are NF4"
    trainable = {p.dtype for p in result.model.parameters() if p.requires_grad}
    assert trainable == {torch.float32}, "adapters stay fp32 unless training in bf16 (fp16 on a T4 needs it)"
    losses = [r["loss"] for r in result.log_history if "loss" in r]
    assert losses and all(l == l and l < 20 for l in losses)  # finite
    assert (result.folder / "adapter" / "adapter_model.safetensors").exists()
    config_4bit = json.loads((result.folder / "adapter" / "adapter_config.json").read_text())
    assert config_4bit["r"] == cfg.lora_r


# --- resume ---------------------------------------------------------------------------------------

def cli(cfg, *extra, env=None):
    args = [sys.executable, "-m", "lib", "train", "--stage", "pretraining", "--model", "tiny",
            "--load_in_4bit", "false", "--max_seq_length", "128", "--per_device_train_batch_size", "1",
            "--gradient_accumulation_steps", "1", "--learning_rate", "1e-3", "--eval_steps", "1000",
            "--logging_steps", "1", "--processed_dir", cfg.processed_dir, "--run_name", "resume", *extra]
    return args


@pytest.mark.slow
def test_killed_after_a_checkpoint_resume_auto_continues_from_that_step(cfg, outputs):
    env = {**os.environ, "P4_OUTPUTS": str(outputs)}
    run = outputs / "resume" / "pretraining"
    proc = subprocess.Popen(cli(cfg, "--max_steps", "400", "--save_steps", "5"), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while folders.latest_checkpoint(run / "checkpoints") is None and time.time() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = folders.latest_checkpoint(run / "checkpoints")
    assert killed_at is not None and not (run / "manifest.json").exists()
    step = int(killed_at.name.split("-")[1])
    assert step < 400
    end = step + 5  # a few steps past the checkpoint are enough to show where training picks up
    done = subprocess.run(cli(cfg, "--max_steps", str(end), "--save_steps", "5", "--resume", "auto"), cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = next(line for line in done.stdout.splitlines() if line.startswith("resuming from "))
    assert resumed.endswith(f"checkpoints/{killed_at.name}"), resumed   # shown from the outputs folder
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["steps"] == end and manifest["resumed_from"].endswith(killed_at.name)
    logged = [r["step"] for r in json.loads((run / "log_history.json").read_text()) if "loss" in r]
    assert logged == list(range(1, end + 1)), "the history before the kill is kept, the rest follows it"


def test_resume_from_a_path_that_is_not_a_checkpoint(cfg, tmp_path):
    with pytest.raises(folders.StageError, match="not a checkpoint folder"):
        training.train_stage(cfg.replace(resume=str(tmp_path)), "pretraining", progress=False)


# --- data parallel --------------------------------------------------------------------------------

@pytest.mark.slow
def test_accelerate_launch_two_cpu_processes_each_see_their_own_share(cfg, outputs, tmp_path):
    env = {**os.environ, "P4_OUTPUTS": str(outputs), "P4_BATCH_LOG": str(tmp_path / "batches"),
           "OMP_NUM_THREADS": "1"}
    # --multi_gpu is torchrun under the hood; without GPUs the processes talk over gloo on the CPU
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    args = cli(cfg, "--max_steps", "6", "--save_steps", "100", "--run_name", "ddp")
    done = subprocess.run(launcher + ["-m", "lib"] + args[3:], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = {}
    for rank in (0, 1):
        lines = (tmp_path / "batches" / f"rank{rank}.tsv").read_text().splitlines()
        seen[rank] = {line.split("\t")[2] for line in lines}
        assert {int(line.split("\t")[1]) for line in lines} == set(range(6))  # every step, on each process
    assert seen[0] and seen[1] and not seen[0] & seen[1], "the two processes train on different chunks"
    assert (outputs / "ddp" / "pretraining" / "manifest.json").exists()


# --- hardware profiles and backends -------------------------------------------------------------------

@pytest.mark.parametrize("name, profile", [("Tesla T4", "t4"), ("NVIDIA A100-SXM4-40GB", "a100"),
                                           ("NVIDIA L4", "l4"), ("NVIDIA H100 80GB HBM3", "h100"),
                                           ("NVIDIA H200", "h100"), ("Quadro RTX 6000", "gpu"), ("", "cpu")])
def test_profiles_are_detected_from_the_gpu_name(name, profile):
    assert hardware.detect(name) == profile


def test_plans_keep_the_effective_batch(cfg, monkeypatch):
    seed = cfg.replace(max_seq_length=2048, per_device_train_batch_size=2, gradient_accumulation_steps=8)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(hardware, "gpu_name", lambda: "Tesla T4")
    monkeypatch.setattr(hardware, "bf16_supported", lambda: False)
    t4 = hardware.plan(seed)
    assert (t4.profile, t4.precision, t4.micro_batch, t4.gradient_accumulation) == ("t4", "fp16", 4, 4)
    assert t4.gradient_checkpointing and t4.effective_batch == 16 and t4.load_in_4bit
    monkeypatch.setattr(hardware, "gpu_name", lambda: "NVIDIA A100-SXM4-80GB")
    monkeypatch.setattr(hardware, "bf16_supported", lambda: True)
    a100 = hardware.plan(seed)
    assert (a100.precision, a100.micro_batch * a100.gradient_accumulation) == ("bf16", 16)
    assert not a100.load_in_4bit, "16-bit LoRA where memory allows"
    monkeypatch.setattr(hardware, "gpu_name", lambda: "NVIDIA H200")
    h200 = hardware.plan(seed)
    assert not h200.gradient_checkpointing and not h200.load_in_4bit and h200.effective_batch == 16
    short = hardware.plan(seed.replace(max_seq_length=512))
    assert short.micro_batch > a100.micro_batch and short.effective_batch == 16
    off = hardware.plan(seed.replace(hardware_profile="off", precision="fp32"))
    assert (off.micro_batch, off.gradient_accumulation, off.precision) == (2, 8, "fp32")
    monkeypatch.setenv("WORLD_SIZE", "2")  # a data-parallel launch shares the same global batch out
    shared = hardware.plan(seed)
    assert shared.processes == 2 and shared.effective_batch == 16
    assert shared.micro_batch * shared.gradient_accumulation * 2 == 16
    monkeypatch.delenv("WORLD_SIZE")
    forced = hardware.plan(seed.replace(hardware_profile="t4", gradient_checkpointing=False))
    assert forced.micro_batch == 4 and not forced.gradient_checkpointing and forced.precision == "fp16"


def test_compiled_layers_and_flex_attention_only_where_they_pay_off(cfg, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(hardware, "gpu_name", lambda: "NVIDIA H200")
    monkeypatch.setattr(hardware, "bf16_supported", lambda: True)
    seed = cfg.replace(hardware_profile="auto")
    packed, padded = hardware.plan(seed, compilable=True), hardware.plan(seed, compilable=False)
    assert (packed.compile, packed.attention) == (True, "flex_attention")
    assert (padded.compile, padded.attention) == (False, "sdpa"), "stage 2's pairs vary in width"
    assert "compiled layers" in packed.describe() and "compiled" not in padded.describe()
    chosen = hardware.plan(seed.replace(torch_compile=False, attn_implementation="sdpa"), compilable=True)
    assert (chosen.compile, chosen.attention) == (False, "sdpa"), "explicit settings win over the profile"
    assert hardware.plan(seed.replace(torch_compile=True), compilable=False).compile
    monkeypatch.setattr(hardware, "gpu_name", lambda: "Tesla T4")
    monkeypatch.setattr(hardware, "bf16_supported", lambda: False)
    t4 = hardware.plan(seed, compilable=True)
    assert (t4.compile, t4.attention) == (True, "sdpa"), "no flex attention on a T4"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not hardware.plan(seed.replace(hardware_profile="auto"), compilable=True).compile, "never on CPU"


def test_fixed_width_rows_pad_to_one_shape_without_labels():
    collate = RowPackedCollator(pad_token_id=0, width=12)
    batch = collate([{"input_ids": [5, 6, 7, 8, 9], "seq_lengths": [3, 2]}, {"input_ids": [4, 4, 4]}])
    assert batch["input_ids"].shape == (2, 12) and batch["position_ids"].shape == (2, 12)
    assert batch["position_ids"][0].tolist() == [0, 1, 2, 0, 1] + list(range(7)), "the padding is its own block"
    assert batch["labels"][0].tolist() == [-100, 6, 7, -100, 9] + [-100] * 7
    assert batch["labels"][1].tolist() == [-100, 4, 4] + [-100] * 9
    assert RowPackedCollator(0)([{"input_ids": [1, 2, 3]}])["input_ids"].shape == (1, 3), "no width: no padding"


@pytest.mark.slow
def test_compiled_layers_train_like_eager_layers_and_are_undone_for_generation(cfg):
    base = cfg.replace(max_steps=3, load_in_4bit=False, lora_dropout=0.0, logging_steps=1)
    eager = training.train_stage(base.replace(run_name="eager", torch_compile=False), "pretraining", progress=False)
    compiled = training.train_stage(base.replace(run_name="compiled", torch_compile=True), "pretraining",
                                    progress=False)
    assert compiled.plan.compile and not eager.plan.compile
    losses = [[r["loss"] for r in result.log_history if "loss" in r] for result in (eager, compiled)]
    assert len(losses[1]) == 3 and losses[1][-1] < losses[1][0], "the compiled run trains"
    # The same first batch gives the same loss (rows padded to one width change nothing). Later steps drift
    # apart: Adam turns the compiler's rounding in near-zero gradients into full-size steps.
    assert losses[1][0] == pytest.approx(losses[0][0], abs=1e-4)
    layers = speedups.decoder_layers(compiled.model)
    assert layers and all(layer._compiled_call_impl is None for layer in layers), "generation runs eagerly"


def test_backend_choice_on_a_machine_without_gpu(cfg, capsys):
    assert models.choose_backend(cfg.replace(use_unsloth=False)) == "hf"
    assert models.choose_backend(cfg.replace(use_unsloth="auto")) == "hf"
    assert capsys.readouterr().out.count("unsloth not used (no GPU)") == 1, "the fallback says why, each time"
    with pytest.raises(models.BackendError, match="use_unsloth is true but unsloth cannot be used here"):
        models.choose_backend(cfg.replace(use_unsloth=True))


def test_no_token_for_the_gated_model_says_what_to_do(cfg, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(models.ModelAccessError, match="meta-llama/Llama-3.2-3B-Instruct"):
        models.load_tokenizer(cfg.replace(model="meta-llama/Llama-3.2-3B-Instruct"))
    with pytest.raises(models.ModelAccessError, match="HF_TOKEN.*Accept the licence"):
        with models.explain_access_errors("meta-llama/Llama-3.2-3B-Instruct"):  # what transformers raises
            raise OSError("You are trying to access a gated repo.\nMake sure to have access to it at "
                          "https://huggingface.co/meta-llama/Llama-3.2-3B-Instruct.\n401 Client Error.")
