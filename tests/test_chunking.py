import re

import pytest

from lib.data import chunking, cleaning, corpus
from tests.conftest import SAMPLE


def trainer_length(tokenizer, text):
    """What the trainer sees: the tokenizer adds BOS; the chunk carries its EOS as text."""
    return len(tokenizer(text)["input_ids"])


@pytest.fixture(scope="module")
def sample_docs():
    return cleaning.clean_corpus(corpus.load_corpus(SAMPLE, verbose=False))[0]


@pytest.mark.parametrize("limit", [64, 256, 1024])
def test_every_chunk_fits_ends_with_eos_and_stays_in_its_document(tiny_tokenizer, sample_docs, limit):
    rows = chunking.chunk_corpus(sample_docs, tiny_tokenizer, limit)
    texts = {d.name: d.text for d in sample_docs}
    eos = tiny_tokenizer.eos_token
    for row in rows:
        assert row["text"].endswith(eos) and row["text"].count(eos) == 1
        n = trainer_length(tiny_tokenizer, row["text"])
        assert n == row["n_tokens"] <= limit
        ids = tiny_tokenizer(row["text"])["input_ids"]
        assert ids[0] == tiny_tokenizer.bos_token_id and ids[-1] == tiny_tokenizer.eos_token_id
        body = row["text"][: -len(eos)]
        assert body in texts[row["document"]] or limit == 64  # at 64 tokens some sentences are cut by tokens
    assert {r["document"] for r in rows} == set(texts)


def test_cuts_fall_on_paragraph_boundaries(tiny_tokenizer, sample_docs):
    doc = sample_docs[0]
    paragraphs = doc.text.strip().split("\n\n")
    rows = chunking.chunk_corpus([doc], tiny_tokenizer, 256)
    assert len(rows) > 1
    rebuilt = []
    for row in rows:
        parts = row["text"][: -len(tiny_tokenizer.eos_token)].split("\n\n")
        assert all(p in paragraphs for p in parts)  # whole paragraphs only
        rebuilt += parts
    assert rebuilt == paragraphs  # nothing lost, nothing repeated, in order


def test_long_paragraph_is_cut_at_sentences_and_a_monster_sentence_by_tokens(tiny_tokenizer):
    sentences = [f"Sentence number {i} says something about consent and care." for i in range(40)]
    monster = " ".join(["word"] * 400) + "."
    text = " ".join(sentences) + "\n\n" + monster
    chunks = chunking.chunk_text(text, tiny_tokenizer, 64)
    for body, n in chunks:
        assert n <= 64 and trainer_length(tiny_tokenizer, body) == n
    joined = " ".join(b[: -len(tiny_tokenizer.eos_token)] for b, _ in chunks)
    assert re.sub(r"\s+", " ", joined) == re.sub(r"\s+", " ", text)
    first_bodies = [b for b, _ in chunks[:3]]
    assert all(b.rstrip(tiny_tokenizer.eos_token).endswith(".") for b in first_bodies)  # sentence cuts


def test_overlap_repeats_the_tail_of_the_previous_chunk(tiny_tokenizer, sample_docs):
    doc = sample_docs[1]
    plain = chunking.chunk_text(doc.text, tiny_tokenizer, 200)
    overlapped = chunking.chunk_text(doc.text, tiny_tokenizer, 200, overlap=40)
    eos = tiny_tokenizer.eos_token
    assert len(overlapped) >= len(plain)
    repeats = 0
    for (prev, _), (nxt, n) in zip(overlapped, overlapped[1:]):
        assert n <= 200
        first_sentence = nxt[: -len(eos)].split("\n\n")[0].split(". ")[0]
        repeats += first_sentence in prev
    assert repeats >= len(overlapped) // 2


def test_too_small_a_limit_is_an_error(tiny_tokenizer):
    with pytest.raises(ValueError, match="no room"):
        chunking.chunk_text("text", tiny_tokenizer, 5)


class Recording:
    """The real tokenizer, noting the longest text and the most texts it was handed at once."""

    def __init__(self, tokenizer):
        self.tokenizer, self.longest, self.most = tokenizer, 0, 0

    def __call__(self, texts, **kwargs):
        batch = [texts] if isinstance(texts, str) else texts
        self.longest = max([self.longest, *map(len, batch)])
        self.most = max(self.most, len(batch))
        return self.tokenizer(texts, **kwargs)

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)


def test_a_huge_paragraph_with_no_sentence_end_is_never_tokenised_whole(tiny_tokenizer):
    """Memory follows the chunk, not the paragraph: a run-on paragraph of ~1 MB is cut into chunks of whole
    words without the tokenizer ever seeing more than a chunk's worth of characters, or all its words at once."""
    words = "the surrogate reads a life and not an afternoon of it".split()
    text = " ".join(f"{words[i % len(words)]}{i % 3000}" for i in range(120_000))
    recording = Recording(tiny_tokenizer)
    chunks = chunking.chunk_text(text, recording, 256)
    assert recording.longest <= chunking.char_bound(tiny_tokenizer, 256 - chunking.special_overhead(tiny_tokenizer))
    assert recording.most <= chunking.BATCH_TEXTS
    eos = tiny_tokenizer.eos_token
    assert all(n <= 256 for _, n in chunks)
    assert " ".join(c[: -len(eos)] for c, _ in chunks) == text, "every word kept, in order"


def test_texts_are_counted_in_slices_with_the_same_counts(tiny_tokenizer):
    texts = [f"word{i} " * (i % 7 + 1) for i in range(3000)]
    recording = Recording(tiny_tokenizer)
    counts = chunking.batch_count(recording, texts)
    assert recording.most == chunking.BATCH_TEXTS
    assert counts == [len(ids) for ids in tiny_tokenizer(texts, add_special_tokens=False)["input_ids"]]


def test_a_long_loop_shows_a_progress_bar(tiny_tokenizer, sample_docs, monkeypatch, capsys):
    from lib.data import progress

    chunking.chunk_corpus(sample_docs[:2], tiny_tokenizer, 256)
    assert "chunking" not in capsys.readouterr().err, "a loop of a moment shows no bar"
    monkeypatch.setattr(progress, "AFTER", 0.0)  # as if the loop had run past its few seconds
    chunking.chunk_corpus(sample_docs[:2], tiny_tokenizer, 256)
    assert "chunking" in capsys.readouterr().err
