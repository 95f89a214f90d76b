#!/usr/bin/env bash
# One short session on a CUDA machine: continue tinyalbert-mini's pretraining where the last
# session stopped, and (CHECKS=1) the CuPy checks: forward benchmark and parity property tests.
#
#   OUT=/tmp/gpu-out bash bench/gpu_session.sh                 # continue the bundled model
#   START=scratch OUT=/tmp/gpu-out bash bench/gpu_session.sh   # a larger model from scratch
#
# Device time comes in short sessions on fresh machines, so the run travels: each session
# resumes the run in .gpu/run/ (if there is one), trains for TRAIN_MINUTES, and leaves the run
# in $OUT/run/, to be copied back to .gpu/run/ for the next session. The first session starts
# from the bundled model (--init-from), with dynamic masks and packed documents: stage 3 of the
# recipe in docs/tinyalbert-mini.md. The schedule is made for STEPS steps in all.
#
# START=scratch starts instead the model the CPU measurements in docs/tinyalbert-mini.md point
# to: bench/mini_h512.json (H = 512, 8 heads, FFN 2048; 5.6 M parameters, 11 MB in float16), a
# new vocabulary of VOCAB_SIZE pieces trained on the corpus, lr 1e-3 after 1,000 warm-up steps
# and the log-frequency output bias. Give it the corpus those measurements chose:
#   python scripts/make_corpus.py --name-once --out corpus.txt && gzip -c corpus.txt > .gpu/wordnet.txt.gz
# (a run resumed from .gpu/run/ keeps the options it started with, whatever START says).
#
# Expects beside the checkout (ignored by git, carried to the machine):
#   .gpu/wordnet.txt.gz   the corpus (scripts/make_corpus.py, then gzip; about 5 MB)
#   .gpu/run/             optional: the run an earlier session left in $OUT/run/
#   .whl/                 optional: transformers 4.53.3 and the tokenizers / huggingface_hub it needs,
#                         for the parity tests (the reference version our tests pin)
# Check it on a CPU first:  BACKEND=numpy CHECKS=0 STEPS=40 WARMUP_STEPS=4 BATCH_SIZE=8 TRAIN_MINUTES=1 bash bench/gpu_session.sh
# (and with START=scratch VOCAB_SIZE=2000 for the other start).
set -uo pipefail
OUT=${OUT:-/tmp/gpu-out}
BACKEND=${BACKEND:-cupy}
START=${START:-continue}
case "$START" in
    continue) DEFAULT_LR=5e-4 DEFAULT_WARMUP=300 ;;
    scratch) DEFAULT_LR=1e-3 DEFAULT_WARMUP=1000 ;;
    *) echo "START must be continue or scratch, not $START"; exit 2 ;;
esac
STEPS=${STEPS:-30000}
BATCH_SIZE=${BATCH_SIZE:-128}
LR=${LR:-$DEFAULT_LR}
WARMUP_STEPS=${WARMUP_STEPS:-$DEFAULT_WARMUP}
VOCAB_SIZE=${VOCAB_SIZE:-16000}
TRAIN_MINUTES=${TRAIN_MINUTES:-8}
CHECKS=${CHECKS:-0}
# TF32=1 lets CuPy's float32 matrix products run on the tensor cores (TF32: float32's range, a
# 10-bit mantissa), as mixed-precision training does; for the training run only, never for the
# parity checks, which hold float32 to torch's float32. TF32=0 trains in full float32.
TF32=${TF32:-1}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1

if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .whl/*.whl || { echo "wheel install failed"; exit 1; }
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1 HYPOTHESIS_PROFILE=ci
date -u
echo "training with CUPY_TF32=$TF32"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
python3 -c "import numpy, torch, transformers; print('numpy', numpy.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__)"

# 1. Training starts first: its data preparation runs on the CPU while the checks have the GPU.
CORPUS=/tmp/wordnet.txt
gunzip -c .gpu/wordnet.txt.gz > "$CORPUS" || { echo "no corpus: make .gpu/wordnet.txt.gz"; exit 1; }
RUN=/tmp/mini-run
rm -rf "$RUN"
if [ -f .gpu/run/checkpoint/trainer_state.json ]; then
    cp -r .gpu/run "$RUN"
    TRAIN=(--resume --steps "$STEPS")
else
    if [ "$START" = scratch ]; then
        TRAIN=(--config bench/mini_h512.json --vocab-size "$VOCAB_SIZE" --output-bias-init log-frequency)
    else
        TRAIN=(--init-from tinyalbert/data/tinyalbert-mini)
    fi
    TRAIN+=(--steps "$STEPS" --batch-size "$BATCH_SIZE" --max-seq-length 128
            --lr "$LR" --warmup-steps "$WARMUP_STEPS" --optimizer adamw --weight-decay 0.01 --clip-norm 1.0
            --masking dynamic --pack-documents --heldout-fraction 0.02 --seed 0)
fi
CUPY_TF32=$TF32 python3 -m tinyalbert.pretrain --corpus "$CORPUS" --out "$RUN" --backend "$BACKEND" "${TRAIN[@]}" \
    --save-every 500 --log-every 100 --max-minutes "$TRAIN_MINUTES" > "$OUT/train.txt" 2>&1 &
TRAIN_PID=$!

if [ "$CHECKS" = 1 ]; then
    # 2. Forward speed: CuPy vs torch CUDA (eager attention), same weights, same inputs.
    echo "== forward benchmark"
    timeout 60 python3 bench/bench_forward.py --backend cupy --batch-sizes 1 8 32 --repeats 20
    # 3. The forward parity property on CuPy (the GPU is shared with the training run now).
    echo "== parity on cupy"
    timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_parity.py -k cupy 2>&1 | tail -5
fi

# 4. Wait for the training run (it stops itself after TRAIN_MINUTES with a checkpoint), then
# hand the run back for the next session, and ask the probes.
echo "== training"
wait $TRAIN_PID
STATUS=$?
echo "train exit status $STATUS"
tr '\r' '\n' < "$OUT/train.txt" | grep -v '^$' | awk 'NR<=3 || /held-out|done|stopped|error/ || NR%10==0' | tail -30
[ -f "$RUN/checkpoint/trainer_state.json" ] || { echo "no checkpoint to hand back"; exit 1; }
rm -rf "$OUT/run"
mkdir -p "$OUT/run"
cp -r "$RUN/checkpoint" "$RUN/tokenizer" "$OUT/run/"
[ -d "$RUN/final" ] && cp -r "$RUN/final" "$RUN/eval_results.json" "$OUT/run/"
cp "$RUN/loss_curve.png" "$OUT/" 2>/dev/null
echo "== probes"
python3 bench/probe_mini.py tinyalbert/data/tinyalbert-mini "$RUN/checkpoint" --json "$OUT/probes.json"
ls -la "$OUT" "$OUT/run"
