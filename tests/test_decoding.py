"""Fast decoding (static cache, CUDA graphs on a GPU) chooses the same tokens as Hugging Face's `generate`:
the same loop runs eagerly here, on the tiny model in fp32, with its LoRA adapters on and off."""

import pytest
import torch

from lib import decoding, generation, models

PROMPTS = ["What is your view on surrogate decision-making?", "Who decides?",
           "Should a family override a patient's earlier wishes when the patient can no longer speak?",
           "Why does the narrative self matter at the bedside, and what does a physician owe the story a patient "
           "has told about her own life?"]


def both_ways(model, tok, settings, prompts=PROMPTS, chat_date="26 Jul 2024", stops=None):
    """New token ids from `generate` and from `decoding.decode` (eager) for one left-padded batch."""
    texts = [generation.chat_text(tok, p, chat_date=chat_date) for p in prompts]
    side, tok.padding_side = tok.padding_side, "left"
    try:
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tok.padding_side = side
    stops = stops or models.stop_token_ids(tok)
    model.eval()
    with torch.no_grad():
        if settings.do_sample:
            torch.manual_seed(settings.seed)
        plain = model.generate(**enc, max_new_tokens=settings.max_new_tokens, min_new_tokens=settings.min_new_tokens,
                               do_sample=settings.do_sample, temperature=settings.temperature if settings.do_sample
                               else None, top_p=settings.top_p if settings.do_sample else None, top_k=None,
                               repetition_penalty=settings.repetition_penalty, eos_token_id=stops,
                               pad_token_id=tok.pad_token_id)[:, enc["input_ids"].shape[1]:]
        if settings.do_sample:
            torch.manual_seed(settings.seed)
        fast = decoding.decode(model, enc["input_ids"], enc["attention_mask"], settings, stops, tok.pad_token_id,
                               graphs=False)
    return plain, fast


@pytest.mark.parametrize("settings", [
    generation.GenerationSettings(max_new_tokens=24, min_new_tokens=24),
    generation.GenerationSettings(max_new_tokens=40),                      # rows stop at <|eot_id|>
    generation.GenerationSettings(max_new_tokens=16, min_new_tokens=4, repetition_penalty=1.3),
    generation.GenerationSettings(max_new_tokens=16, min_new_tokens=16, do_sample=True, seed=3),
], ids=["greedy", "stops", "repetition-penalty", "sampled"])
def test_decoding_chooses_the_tokens_generate_chooses(tiny_run, settings):
    model, tok = tiny_run.stage2.model, tiny_run.stage2.tokenizer
    plain, fast = both_ways(model, tok, settings)
    assert fast.shape == plain.shape and torch.equal(fast, plain)
    with model.disable_adapter():  # the base arm of the study
        plain, fast = both_ways(model, tok, settings)
    assert torch.equal(fast, plain)


def test_rows_that_stop_early_are_padded_and_the_batch_ends_with_the_last(tiny_run):
    model, tok = tiny_run.stage2.model, tiny_run.stage2.tokenizer
    # sampled (seeded), so that the rows differ: decode and generate draw the same tokens (test above)
    settings = generation.GenerationSettings(max_new_tokens=30, do_sample=True, temperature=1.0, top_p=1.0, seed=5)
    free, _ = both_ways(model, tok, settings)
    rows = free.tolist()
    # for each row a token that no other row emits, first seen at a step of its own: as stop tokens, every such
    # row ends at its own step and the others never see them
    stops, steps = list(models.stop_token_ids(tok)), set()
    for i, row in enumerate(rows):
        others = {t for j, other in enumerate(rows) if j != i for t in other}
        step = next((k for k, t in enumerate(row) if k >= 2 and t not in others and row.index(t) == k
                     and k not in steps), None)
        if step is not None:
            stops.append(row[step])
            steps.add(step)
    assert len(steps) >= 2, "the tiny model's rows differ enough to stop at different steps"
    plain, fast = both_ways(model, tok, settings, stops=stops)
    assert torch.equal(fast, plain), "the same tokens, the same length"
    if len(steps) == len(rows):
        assert plain.shape[1] == max(steps) + 1, "the batch ends where the last row stopped"
    for row in fast:
        hit = torch.isin(row, torch.tensor(stops)).nonzero()
        if len(hit):
            assert (row[int(hit[0, 0]) + 1:] == tok.pad_token_id).all(), "pad after a row's stop, as generate does"


def test_generate_falls_back_to_the_plain_path_without_a_gpu(tiny_run):
    model, tok = tiny_run.stage2.model, tiny_run.stage2.tokenizer
    assert not decoding.supported(model), "CPU: Hugging Face's generate"
    settings = generation.GenerationSettings(max_new_tokens=12, min_new_tokens=12, batch_size=3)
    forced = generation.generate(model, tok, PROMPTS, settings, fast=True)  # the static-cache loop, eagerly
    assert forced == generation.generate(model, tok, PROMPTS, settings)
    assert all(answer for answer in forced)
