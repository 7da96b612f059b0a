"""Stage 2 packed padding-free: pairs share rows without seeing each other, labels stay on the answers and
their closing <|eot_id|>, the loss equals the padded loss on the same pairs, and the plan counts rows."""

import pytest
import torch

from lib.data import prepare, processed
from lib.llm import hardware
from lib.settings import config
from lib.train import stage as training
from lib.train.packing import RowPackedCollator, examples_per_row
from tests.conftest import ROOT

FAST = dict(model="tiny", load_in_4bit=False, max_seq_length=512, per_device_train_batch_size=4,
            gradient_accumulation_steps=1, learning_rate=2e-2, warmup_ratio=0.0, logging_steps=5, eval_steps=10,
            save_steps=10, init_from="base", max_steps=1)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("processed")
    prepare.run(config.load_config(ROOT / "config.yaml", **FAST, processed_dir=str(folder)), verbose=False)
    return folder


@pytest.fixture
def cfg(data_dir, outputs):
    return config.load_config(ROOT / "config.yaml", **FAST, processed_dir=str(data_dir), run_name="r")


def pairs_of(dataset) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) of every pair in the trainer's dataset: packed rows are cut where each pair ends."""
    out = []
    for example in dataset:
        ids, labels = example["input_ids"], example["labels"]
        start = 0
        for n in example.get("seq_lengths") or [len(ids)]:
            out.append((ids[start:start + n], labels[start:start + n]))
            start += n
    return out


def check_answer_only_labels(tok, rows: list[dict], dataset, cfg) -> None:
    """Each pair as the chat template renders it; no prompt token carries a label; every answer token and
    the closing <|eot_id|> do."""
    eot = tok.convert_tokens_to_ids("<|eot_id|>")
    found = pairs_of(dataset)
    assert len(found) == len(rows), "every pair is trained on, once"
    by_ids = dict((tuple(ids), labels) for ids, labels in found)
    for row in rows:
        prompt_ids = tok.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True,
                                             date_string=cfg.chat_date, return_dict=False)
        full_ids = tok.apply_chat_template(row["prompt"] + row["completion"], tokenize=True,
                                           date_string=cfg.chat_date, return_dict=False)
        assert len(full_ids) <= cfg.max_seq_length, "the test's window holds every pair"
        labels = by_ids.get(tuple(full_ids))
        assert labels is not None, "the trainer tokenised the row as the chat template does"
        n = len(prompt_ids)
        assert all(label == -100 for label in labels[:n]), "no prompt token carries a label"
        assert labels[n:] == full_ids[n:], "every answer token carries its label"
        assert labels[-1] == eot and full_ids[-1] == eot, "the closing <|eot_id|> carries a label"


@pytest.mark.parametrize("packing", [True, False])
def test_only_answer_tokens_and_the_closing_eot_carry_labels(cfg, packing):
    setup = training.setup_stage(cfg.replace(packing=packing), "instruction", progress=False)
    rows = processed.load_split(cfg, "instruction")[0]
    dataset = setup.trainer.train_dataset
    check_answer_only_labels(setup.tokenizer, rows, dataset, cfg)
    if packing:
        assert "seq_lengths" in dataset.column_names and len(dataset) < 0.6 * len(rows), "pairs share rows"
    else:
        assert len(dataset) == len(rows)


def packed_and_padded(setup, n_rows: int = 2):
    """The first rows of the packed dataset as the trainer collates them, and the same pairs padded one per
    row as TRL's padding collator does (attention mask, -100 on padding)."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    dataset = setup.trainer.train_dataset
    examples = [dataset[i] for i in range(n_rows)]
    packed = setup.trainer.data_collator(examples)
    pairs = [{"input_ids": ids, "labels": labels} for ids, labels in pairs_of(examples)]
    padded = DataCollatorForLanguageModeling(pad_token_id=setup.tokenizer.pad_token_id)(pairs)
    return packed, padded, len(pairs)


def test_packed_pairs_do_not_attend_to_each_other_and_the_loss_equals_the_padded_loss(cfg):
    setup = training.setup_stage(cfg.replace(max_seq_length=1024), "instruction", progress=False)
    packed, padded, n_pairs = packed_and_padded(setup)
    assert n_pairs >= 5 and "attention_mask" not in packed and "attention_mask" in padded
    assert (packed["labels"] != -100).sum() == (padded["labels"] != -100).sum(), "the same tokens carry labels"
    model, trainer = setup.trainer.model.eval(), setup.trainer
    with torch.no_grad():
        packed_logits = model(input_ids=packed["input_ids"], position_ids=packed["position_ids"]).logits
        padded_logits = model(input_ids=padded["input_ids"], attention_mask=padded["attention_mask"]).logits
        loss_packed = trainer.compute_loss(model, dict(packed))
        loss_padded = trainer.compute_loss(model, dict(padded))
    pair = 0
    for row in range(packed["input_ids"].shape[0]):  # each pair's logits in its row are those of the pair alone
        starts = (packed["position_ids"][row] == 0).nonzero().flatten().tolist() + [packed["input_ids"].shape[1]]
        for a, b in zip(starts, starts[1:]):
            if pair < n_pairs and b - a == int(padded["attention_mask"][pair].sum()):
                torch.testing.assert_close(packed_logits[row, a:b], padded_logits[pair, : b - a], atol=1e-4,
                                           rtol=1e-4)
                pair += 1
    assert pair == n_pairs, "every pair found in the packed rows, in order"
    assert loss_packed.item() == pytest.approx(loss_padded.item(), rel=1e-5), "same pairs, same loss"


def test_compiled_rows_have_one_shape_and_a_short_batch_gets_empty_rows():
    collate = RowPackedCollator(pad_token_id=0, width=8, rows=3)
    batch = collate([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7], "seq_lengths": [3]}])
    assert batch["input_ids"].shape == (3, 8), "rows and width fixed"
    assert (batch["input_ids"][1:] == 0).all() and (batch["labels"][1:] == -100).all(), "empty rows: no labels"
    assert batch["labels"][0].tolist() == [-100, 6, 7] + [-100] * 5
    assert batch["position_ids"][1].tolist() == list(range(8))


def test_the_plan_counts_rows_so_a_step_sees_the_configured_pairs(cfg, monkeypatch):
    assert examples_per_row([250] * 370, 2048) == pytest.approx(370 / 46)
    assert examples_per_row([4000, 10], 2048) == 1.0, "never less than one example to a row"
    seed = cfg.replace(hardware_profile="auto", max_seq_length=2048, per_device_train_batch_size=2,
                       gradient_accumulation_steps=8)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(hardware, "gpu_name", lambda: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(hardware, "bf16_supported", lambda: True)
    pairs = hardware.plan(seed, compilable=True, examples_per_row=8.0)
    assert (pairs.micro_batch, pairs.gradient_accumulation, pairs.effective_batch) == (2, 1, 2), "16 pairs: 2 rows"
    assert pairs.compile and pairs.attention == "flex_attention", "packed stage 2 compiles like stage 1"
    assert "~16 pairs per step" in pairs.describe()
    chunks = hardware.plan(seed, compilable=True)
    assert (chunks.micro_batch, chunks.gradient_accumulation) == (4, 4), "stage 1 unchanged"
    few = hardware.plan(seed, compilable=True, examples_per_row=40.0)
    assert few.effective_batch == 1, "at least one row a step"


@pytest.mark.slow
def test_packed_stage2_trains(cfg):
    result = training.train_stage(cfg.replace(max_steps=12, eval_steps=6, logging_steps=1), "instruction",
                                  progress=False)
    assert result.plan.examples_per_row > 1.5, "pairs were packed several to a row"
    losses = [r["loss"] for r in result.log_history if "loss" in r]
    evals = [r["eval_loss"] for r in result.log_history if "eval_loss" in r]
    assert evals[-1] < evals[0] - 0.3, evals
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5, losses
    assert result.resources["first_step_seconds"] is not None and result.resources["first_step_seconds"] >= 0
