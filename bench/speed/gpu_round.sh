#!/usr/bin/env bash
# Every GPU measurement of one speed round, in one process tree, on the lent GPU machine (README, Performance):
# the shape model with Llama-3.2's real tokenizer, generation (plain vs fast, bf16; identical outputs in fp32),
# the whole pipeline, stage 2 three ways (bench/speed/stage2.py), then 04_probe_study end to end on stage2's run.
#   [BUDGET=SECONDS] bench/speed/gpu_round.sh OUT [STEPS]
# STEPS: which of generation,fp32,pipeline,stage2,study,t4,matrix, in that order (default: generation,fp32,stage2,study)
# EPOCHS and VARIANTS set bench/speed/stage2.py's epochs (1) and variants (all three).
# WHEELS=DIR installs the wheels for what the machine lacks into /tmp/site; each step has a time limit, writes its log and
# JSON under /tmp/round, and the JSON files are copied to OUT as they come (a timeout keeps what is done).
set -u
OUT=${1:?output folder}
STEPS=${2:-generation,fp32,stage2,study}
mkdir -p "$OUT" /tmp/round
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
T0=$(date +%s)
MODEL=/tmp/llama-3b-shape

BUDGET=${BUDGET:-100000}  # seconds for the whole round: a step never runs past it
step() {  # name limit command...
  local name=$1 limit=$2; shift 2
  local left=$(( BUDGET - ($(date +%s) - T0) ))
  (( left < limit )) && limit=$left
  (( limit < 20 )) && { echo "== $name: skipped, no time left"; return 0; }
  echo "== $name: start at $(( $(date +%s) - T0 )) s (limit $limit s)"
  timeout "$limit" "$@" > "/tmp/round/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc $rc, done at $(( $(date +%s) - T0 )) s"
  grep -v -E "Warning|warn\(|^\s*$" "/tmp/round/$name.log" | tail -n 40 | cut -c1-400 >> "$OUT/tables.txt"
  cp /tmp/round/*.json "$OUT/" 2>/dev/null
  return 0
}
has() { [[ ",$STEPS," == *",$1,"* ]]; }

if [[ -n "${WHEELS:-}" ]]; then  # wheels for what the image lacks; datasets 5 needs pyarrow >= 24, huggingface-hub >= 1.31
  DS=$(python3 -c "import pyarrow as p, huggingface_hub as h; from packaging.version import Version as V; \
print('ds5' if V(p.__version__) >= V('24') and V(h.__version__) >= V('1.31') else 'ds4')")
  python3 -m pip install -q --no-index --no-deps --target /tmp/site "$WHEELS"/*.whl "$WHEELS/$DS"/*.whl \
    $( [[ ",$STEPS," == *",t4,"* ]] && ls "$WHEELS"/bnb/*.whl 2>/dev/null ) 2>&1 | tail -n 3
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
python3 -c "import torch, transformers, trl, datasets, peft, accelerate as a; print('torch', torch.__version__, \
'transformers', transformers.__version__, 'trl', trl.__version__, 'datasets', datasets.__version__, 'peft', \
peft.__version__, 'accelerate', a.__version__, torch.cuda.get_device_name(0))" 2>&1 | tee "$OUT/tables.txt"
step shape 180 python3 -m bench.speed.shape_model "$MODEL"
has generation && step generation 150 python3 -m bench.speed.generation --model "$MODEL" --prompts 16 --max_new_tokens 160 \
  --batch_size 8 --modes plain,fast --profile --json /tmp/round/generation.json
has fp32 && step generation_fp32 100 python3 -m bench.speed.generation --model "$MODEL" --prompts 8 --max_new_tokens 32 \
  --batch_size 8 --modes plain,fast --dtype fp32 --json /tmp/round/generation_fp32.json
has pipeline && step pipeline 330 python3 -m bench.speed.pipeline --out /tmp/round/pipeline --skip quality \
  && cp /tmp/round/pipeline/pipeline.json /tmp/round/pipeline.json
has stage2 && step stage2 300 python3 -m bench.speed.stage2 --out /tmp/round/stage2 --epochs "${EPOCHS:-1}" \
  --variants "${VARIANTS:-packed-compiled,packed-eager,padded}" \
  && cp /tmp/round/stage2/stage2.json /tmp/round/stage2.json
has study && step study 300 python3 -m bench.speed.probe_study --model "$MODEL" --run_name packed-compiled \
  --outputs /tmp/p4-stage2-outputs --json /tmp/round/study.json
has t4 && step generation_4bit 120 python3 -m bench.speed.generation --model "$MODEL" --prompts 8 --max_new_tokens 64 \
  --batch_size 8 --modes plain,fast --load_in_4bit true --json /tmp/round/generation_4bit.json
has matrix && step matrix 300 python3 -m bench.speed.train_matrix --configs project-auto,project-auto-sdpa --seqs 2048 \
  --steps 4 --profile project-auto --out /tmp/round/matrix && cp /tmp/round/matrix/train_matrix.json /tmp/round/
cp /tmp/round/*.json "$OUT/" 2>/dev/null
echo "== all done at $(( $(date +%s) - T0 )) s"
cat "$OUT/tables.txt" | tail -n 150
