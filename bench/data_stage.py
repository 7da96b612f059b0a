"""Wall time of the data stage, step by step, on a real corpus (default: ../shared/corpora/schopenhauer).

    .venv/bin/python bench/data_stage.py [--corpus PATH] [--model tiny] [--json out.json]

Prints one row per step (seconds and share of the total) and writes the table as JSON. The tokenizer is
the tiny model's unless --model names another: Llama-3.2's real one offline with
`python bench/shape_model.py --tokenizer_only /tmp/llama-tokenizer` and `--model /tmp/llama-tokenizer`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib import config, models, storage  # noqa: E402
from lib.data import chunking, cleaning, corpus, prepare  # noqa: E402

SCHOPENHAUER = dict(split_pattern=r"^[A-Z][A-Z ,;:'-]{2,}[A-Z]\.$", strip_gutenberg=True,
                    drop_sections=r"(?i)translator|prefatory|^note")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(storage.PROJECT_ROOT.parent / "shared/corpora/schopenhauer"))
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    out_dir = Path(tempfile.mkdtemp())
    cfg = config.load_config(storage.PROJECT_ROOT / "config.yaml", model=args.model, corpus=args.corpus,
                             processed_dir=str(out_dir), **SCHOPENHAUER)
    times: dict[str, float] = {}

    def timed(name, fn):
        start = time.perf_counter()
        value = fn()
        times[name] = time.perf_counter() - start
        return value

    tokenizer = timed("load tokenizer", lambda: models.load_tokenizer(cfg))
    docs = timed("read + strip boilerplate + split", lambda: corpus.from_config(cfg, verbose=False))
    docs, reports = timed("clean", lambda: cleaning.clean_corpus(docs, cfg.unwrap_lines))
    chunks = timed("chunk (model tokens)", lambda: chunking.chunk_corpus(
        docs, tokenizer, cfg.effective_chunk_tokens, cfg.chunk_overlap))
    split = timed("split by document", lambda: prepare.split_documents(docs, cfg.val_fraction, cfg.seed))
    built, _ = timed("instruction pairs", lambda: prepare.build_pairs(cfg.replace(qa_file=""), docs, tokenizer))
    from lib.data import pairs

    timed("write files + manifest", lambda: prepare.write_processed(
        out_dir, cfg, chunks=chunks, pair_rows=[pairs.to_chat(p) for p in built], split=split,
        documents=prepare.document_table(docs, reports, chunks, split), tokenizer_name=cfg.model))
    total = sum(times.values())
    chars = sum(len(d.text) for d in docs)
    print(f"corpus: {args.corpus} | {len(docs)} documents, {chars:,} characters after cleaning, "
          f"{len(chunks)} chunks, {len(built)} pairs")
    print(f"{'step':<36}{'seconds':>9}{'share':>8}")
    for name, seconds in times.items():
        print(f"{name:<36}{seconds:>9.2f}{seconds / total:>8.0%}")
    print(f"{'total':<36}{total:>9.2f}")
    if args.json:
        storage.write_json(args.json, {"corpus": args.corpus, "documents": len(docs), "chars": chars,
                                       "chunks": len(chunks), "pairs": len(built), "seconds": times})


if __name__ == "__main__":
    main()
