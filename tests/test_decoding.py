"""The decoding engine (continuous batching over a ring cache, adapters mixed in one batch) makes the answers
the project made before: greedy answers identical in fp32, on the tiny model with its adapters on and off, to
Hugging Face's `generate` batched as `generation.generate` batched it (the CPU path of the previous version);
a sampled answer depends on its seed alone and is drawn from the model's distribution."""

import numpy as np
import pytest
import torch

from lib.llm import decoding, generation, hardware, lora_mix, models

PROMPTS = ["What is your view on surrogate decision-making?", "Who decides?",
           "Should a family override a patient's earlier wishes when the patient can no longer speak?",
           "Why does the narrative self matter at the bedside, and what does a physician owe the story a patient "
           "has told about her own life?", "Is consent a form or a conversation?"]
DATE = "26 Jul 2024"


def previous_path(model, tok, prompts, settings, chat=True, batch_size=8):
    """`generation.generate` as it was: prompts sorted longest first, batches of `batch_size`, left padding,
    Hugging Face's `generate`, the new tokens decoded without special tokens."""
    texts = [generation.chat_text(tok, p, chat_date=DATE) if chat else p for p in prompts]
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = [""] * len(texts)
    side, tok.padding_side = tok.padding_side, "left"
    model.eval()
    try:
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            enc = tok([texts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=not chat)
            with torch.no_grad():
                ids = model.generate(**enc, max_new_tokens=settings.max_new_tokens,
                                     min_new_tokens=settings.min_new_tokens, do_sample=False, temperature=None,
                                     top_p=None, top_k=None, repetition_penalty=settings.repetition_penalty,
                                     eos_token_id=models.stop_token_ids(tok), pad_token_id=tok.pad_token_id)
            for i, row in zip(batch, ids[:, enc["input_ids"].shape[1]:]):
                out[i] = tok.decode(row, skip_special_tokens=True).strip()
    finally:
        tok.padding_side = side
    return out


@pytest.fixture(scope="module")
def two_adapters(tiny_run):
    """The tiny base with both stages' adapters loaded, as the study's arms load them."""
    from peft import PeftModel

    base, tok = models.load_base(tiny_run.cfg, torch.float32)
    model = PeftModel.from_pretrained(base, str(tiny_run.stage1.folder / "adapter"), adapter_name="pretraining")
    model.load_adapter(str(tiny_run.stage2.folder / "adapter"), adapter_name="instruction")
    return model, tok


@pytest.mark.parametrize("settings", [
    generation.GenerationSettings(max_new_tokens=24, min_new_tokens=24),
    generation.GenerationSettings(max_new_tokens=40),                      # rows stop at <|eot_id|>
    generation.GenerationSettings(max_new_tokens=16, min_new_tokens=4, repetition_penalty=1.3),
    generation.GenerationSettings(max_new_tokens=20, min_new_tokens=20, batch_size=2),  # slots refilled
], ids=["greedy", "stops", "repetition-penalty", "two-slots"])
def test_greedy_answers_are_the_previous_versions(two_adapters, settings):
    model, tok = two_adapters
    model.set_adapter("instruction")
    new = generation.generate(model, tok, PROMPTS, settings, chat_date=DATE)
    assert new == previous_path(model, tok, PROMPTS, settings)
    assert len(set(new)) > 1, "the prompts get different answers"
    with model.disable_adapter():  # the base arm of the study
        assert generation.generate(model, tok, PROMPTS, settings, chat_date=DATE) == previous_path(
            model, tok, PROMPTS, settings)


def test_raw_text_is_continued_as_before(two_adapters):
    model, tok = two_adapters
    model.set_adapter("pretraining")
    settings = generation.GenerationSettings(max_new_tokens=16, min_new_tokens=16)
    openings = ["The narrative self is", "Consent, in the end, is a conversation that"]
    assert generation.generate(model, tok, openings, settings, chat=False) == previous_path(
        model, tok, openings, settings, chat=False)


def test_mixed_adapters_answer_as_each_adapter_alone(two_adapters):
    model, tok = two_adapters
    assert lora_mix.unsupported(model, ["pretraining", "instruction"]) is None
    settings = generation.GenerationSettings(max_new_tokens=20, min_new_tokens=20, batch_size=4)
    alone = {}
    for arm in ("pretraining", "instruction", None):
        if arm is None:
            with model.disable_adapter():
                alone[arm] = generation.generate(model, tok, PROMPTS, settings, chat_date=DATE)
        else:
            model.set_adapter(arm)
            alone[arm] = generation.generate(model, tok, PROMPTS, settings, chat_date=DATE)
    assert alone["pretraining"] != alone["instruction"] != alone[None], "three different models"
    texts = [generation.chat_text(tok, p, chat_date=DATE) for p in PROMPTS]
    arms = ["instruction", None, "pretraining"]
    prompts = [generation.Prompt(t, settings, adapter=a) for t in texts for a in arms]  # interleaved rows
    mixed = generation.answer(model, tok, prompts, adapters=["pretraining", "instruction"])
    for k, prompt in enumerate(prompts):
        assert mixed[k] == alone[prompt.adapter][k // len(arms)], (k, prompt.adapter)
    assert "forward" not in vars(lora_mix.lora_layers(model)[0]), "the layers are PEFT's again afterwards"


def test_a_sample_depends_on_its_seed_alone(two_adapters):
    model, tok = two_adapters
    model.set_adapter("instruction")
    settings = generation.GenerationSettings(max_new_tokens=12, do_sample=True, temperature=1.0, top_p=1.0,
                                             min_new_tokens=12, seed=7)
    texts = [generation.chat_text(tok, p, chat_date=DATE) for p in PROMPTS]
    prompts = [generation.Prompt(t, settings, seed=100 + i) for i, t in enumerate(texts)]
    together = generation.answer(model, tok, prompts)
    one_slot = generation.answer(model, tok, [generation.Prompt(p.text, generation.GenerationSettings(
        **{**settings.as_dict(), "batch_size": 1}), seed=p.seed) for p in prompts])
    reversed_order = generation.answer(model, tok, prompts[::-1])[::-1]
    assert together == one_slot == reversed_order
    other = generation.answer(model, tok, [generation.Prompt(p.text, settings, seed=p.seed + 1) for p in prompts])
    assert sum(a != b for a, b in zip(together, other)) >= 3, "another seed, other samples"


@pytest.mark.parametrize("temperature,top_p", [(1.0, 1.0), (0.7, 0.9)])
def test_samples_follow_the_models_distribution(two_adapters, temperature, top_p):
    """The first token of 1,000 samples of one prompt against the probabilities `generate` samples from."""
    from transformers import TemperatureLogitsWarper, TopPLogitsWarper

    model, tok = two_adapters
    model.set_adapter("instruction")
    text = generation.chat_text(tok, PROMPTS[0], chat_date=DATE)
    enc = tok(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        scores = model(**enc).logits[:, -1].float()
    scores = TopPLogitsWarper(top_p)(None, TemperatureLogitsWarper(temperature)(None, scores))
    p = torch.softmax(scores, -1)[0].numpy()
    choice = generation.GenerationSettings(do_sample=True, temperature=temperature, top_p=top_p).choice()
    jobs = [decoding.Job(enc["input_ids"][0].tolist(), 1, seed) for seed in range(1000)]
    first = decoding.decode(model, jobs, choice, models.stop_token_ids(tok), tok.pad_token_id, slots=1000)
    counts = np.bincount([ids[0] for ids in first], minlength=len(p))[: len(p)]
    n = len(first)
    top = np.argsort(-p)[:5]
    assert p[top[0]] < 0.95, "a distribution worth sampling"
    for token in top:
        sd = np.sqrt(p[token] * (1 - p[token]) / n)
        assert abs(counts[token] / n - p[token]) <= 4.5 * sd + 1e-3, (token, counts[token] / n, p[token])
    assert counts[p == 0].sum() == 0, "never a token top-p removed"


def test_rows_decoding_together_follow_the_profile_and_memory(two_adapters):
    model, _ = two_adapters
    assert hardware.generation_slots(model, 600, 1000) == hardware.PROFILES["cpu"].decode_slots
    assert hardware.generation_slots(model, 600, 3) == 3


def test_a_4bit_base_decodes_as_before_and_mixes_adapters(tiny_run):
    """The T4 path: bitsandbytes 4-bit base (eager decoding), answers as `generate` gives them, adapters mixed."""
    from peft import PeftModel

    base, tok = models.load_base(tiny_run.cfg, torch.float32, load_in_4bit=True)
    model = PeftModel.from_pretrained(base, str(tiny_run.stage2.folder / "adapter"), adapter_name="instruction")
    settings = generation.GenerationSettings(max_new_tokens=12, min_new_tokens=12)
    alone = generation.generate(model, tok, PROMPTS[:3], settings, chat_date=DATE)
    assert alone == previous_path(model, tok, PROMPTS[:3], settings)
    texts = [generation.chat_text(tok, p, chat_date=DATE) for p in PROMPTS[:3]]
    mixed = generation.answer(model, tok, [generation.Prompt(t, settings, adapter=a) for t in texts
                                           for a in ("instruction", None)], adapters=["instruction"])
    assert mixed[::2] == alone
    with model.disable_adapter():
        assert mixed[1::2] == generation.generate(model, tok, PROMPTS[:3], settings, chat_date=DATE)
