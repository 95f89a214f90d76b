#!/usr/bin/env bash
# One short session on a CUDA machine: CuPy vs torch-CUDA forward timings, the CuPy parity
# property tests, and a GPU pretraining run of tinyalbert-mini, all in one go.
#
#   OUT=/tmp/gpu-out bash bench/gpu_session.sh
#
# Expects, beside the checkout (ignored by git): .whl/ with transformers 4.53.3 and the versions
# of tokenizers / huggingface_hub it needs (the reference our tests pin), and .gpu/ with the
# corpus (wordnet.txt, see scripts/make_corpus.py) and the SentencePiece vocabulary (tokenizer/).
set -uo pipefail
OUT=${OUT:-/tmp/gpu-out}
STEPS=${STEPS:-2400}
TRAIN_MINUTES=${TRAIN_MINUTES:-3.2}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "wheel install failed"; exit 1; }
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HYPOTHESIS_PROFILE=ci
date -u
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch, transformers, cupy, numpy; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cupy', cupy.__version__, 'numpy', numpy.__version__)"

# 1. Pretraining starts first: its data preparation runs on the CPU while the benchmark has the GPU.
RUN=/tmp/mini-gpu
timeout 285 python3 -m tinyalbert.pretrain --corpus .gpu/wordnet.txt --config mini --tokenizer .gpu/tokenizer \
    --out "$RUN" --steps "$STEPS" --batch-size 64 --max-seq-length 128 --lr 5e-4 --warmup-steps 200 \
    --optimizer adamw --weight-decay 0.01 --clip-norm 1.0 --heldout-fraction 0.02 --seed 0 --save-every 400 \
    --log-every 100 --backend cupy --max-minutes "$TRAIN_MINUTES" > "$OUT/train.txt" 2>&1 &
TRAIN_PID=$!

# 2. Forward speed: CuPy vs torch CUDA (eager attention), same weights, same inputs.
echo "== forward benchmark"
timeout 60 python3 bench/bench_forward.py --backend cupy --batch-sizes 1 8 32 --repeats 20

# 3. The forward parity property on CuPy (the GPU is shared with the training run now).
echo "== parity on cupy"
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_parity.py -k cupy 2>&1 | tail -5

# 4. Wait for the training run, then bring back the model it made.
echo "== training"
wait $TRAIN_PID
echo "train exit status $?"
tr '\r' '\n' < "$OUT/train.txt" | grep -v '^$' | awk 'NR<=3 || /held-out|done|stopped|error/ || NR%10==0' | tail -40
SOURCE=$RUN/final
[ -d "$SOURCE" ] || SOURCE=$RUN/checkpoint
cp "$SOURCE/model.safetensors" "$SOURCE/config.json" "$OUT/" 2>/dev/null
cp "$RUN/loss_curve.png" "$OUT/" 2>/dev/null
cp "$RUN/eval_results.json" "$OUT/" 2>/dev/null
python3 - "$RUN" > "$OUT/history.json" <<'EOF'
import json, sys, pathlib
run = pathlib.Path(sys.argv[1])
for folder in (run / "final", run / "checkpoint"):
    state = folder / "trainer_state.json"
    if state.exists():
        data = json.loads(state.read_text())
        print(json.dumps({"step": data.get("step"), "train_seconds": data.get("train_seconds"),
                          "history": data.get("history")}))
        break
EOF
ls -la "$OUT"
