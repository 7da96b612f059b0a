# Two commands on a fresh machine: `make demo` and `make test` (each sets up .venv when missing);
# `make test-fast` is the quick tier while working.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0
RUN ?= demo-$(shell date +%Y%m%d-%H%M%S)
# The demo: the tiny offline model, short sequences and a few steps, on CPU. Its DigiDan answers run at least 160
# tokens so that they reach the cut length and the questionnaire is built (a tiny model's answers mean nothing).
DEMO_ARGS ?= --model tiny --load_in_4bit false --max_seq_length 256 --max_steps 40 \
	--per_device_train_batch_size 4 --gradient_accumulation_steps 1 --learning_rate 3e-3 \
	--eval_steps 10 --save_steps 20 --logging_steps 2 --probe_max_new_tokens 64 --authorship_words 40 \
	--bootstrap_samples 1000 --digidan_min_new_tokens 160 \
	--questionnaire_purpose "A demonstration: these answers come from a tiny model with random weights."

.PHONY: setup demo test test-fast colab-check clean-demo

setup: $(STAMP)

# CPU torch first, then everything else with torch held where it is (no multi-GB CUDA build); last the project
# itself, editable, so that scripts and tests import `lib` from this checkout without editing sys.path.
$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -c "import torch; print('torch==' + torch.__version__)" > $(VENV)/constraints.txt
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt -c $(VENV)/constraints.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

demo: setup
	$(PY) -m lib run $(DEMO_ARGS) --run_name $(RUN)

test: setup
	$(PY) -m pytest -q

# The fast tier: everything but papermill runs, subprocess command lines, compiling and accelerate launch.
test-fast: setup
	$(PY) -m pytest -q -m "not slow"

# The notebooks on a stand-in of a fresh Colab runtime, twice (colab/check.py); skips without ../shared/colab.
colab-check: setup
	@if [ -f ../shared/colab/pip-freeze.gpu.txt ]; then \
		command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null); \
	fi
	$(PY) colab/check.py

clean-demo:
	rm -rf outputs/demo-* data/processed
