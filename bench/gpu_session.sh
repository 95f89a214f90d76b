#!/usr/bin/env bash
# One lease on a CUDA machine: the CuPy checks (CHECKS=1: forward benchmark and parity tests) and a
# whole pretraining run of tinyalbert-mini, fitted to the time the lease leaves.
#
#   OUT=/tmp/gpu-out CHECKS=1 FIT_SECONDS=480 bash bench/gpu_session.sh
#
# A lease is short (15 minutes of device time, the machine's start included), and what comes back
# from it is small (8 files of at most 16 MiB, 64 MiB together). FIT_SECONDS fits a run to the
# lease: it trains CALIBRATION_STEPS steps of a schedule planned for STEPS more steps, reads its
# speed from the last progress line, and resumes with the step count that ends training
# FIT_SECONDS after this script started (a schedule remade on resume keeps its warm-up; the
# linear decay then ends at the new last step). Without FIT_SECONDS it trains STEPS steps.
#
# The run goes on in the next lease: bench/carry_run.py packs its checkpoint (float32 weights,
# AdamW moments rounded to bfloat16: 47 MB for H = 512, where the checkpoint takes 67 MB) into
# $OUT/run-DIGEST.tar.01of03, ... (once right after calibration, in case the lease ends early,
# and again at the end). Replace the parts in .gpu/ by those (`rm -f .gpu/run-*; cp
# FILES_AT/run-* .gpu/`) and call with START=carried: the run resumes from its step and is
# extended by what that lease allows. The warm-up is not repeated: the learning rate jumps back
# up (to about half the peak when a lease doubles the steps) and decays to 0 at the new end, as
# in stages 3 to 6 of tinyalbert-mini on the CPU, so every lease ends with a finished model.
# The parts and the corpus (48 MB) fit in what a call may carry beside the repository (64 MiB
# in all); the wheels (14 MB) do not fit as well, so a carried lease runs with CHECKS=0 and
# without .whl.
#
# START=scratch (the default) trains the model the CPU measurements in docs/tinyalbert-mini.md
# point to: bench/mini_h512.json (H = 512, 8 heads, FFN 2048; 5.6 M parameters, 11 MB in
# float16), a new vocabulary of VOCAB_SIZE pieces trained on the corpus, lr LR after WARMUP_STEPS
# warm-up steps, the log-frequency output bias, fresh masks every pass and packed documents.
# START=continue continues the bundled model instead (--init-from), at lr 5e-4. START=carried
# resumes the run packed by an earlier lease (.gpu/run-*.tar.*) with its own arguments.
#
# Expects beside the checkout (ignored by git, carried to the machine):
#   .gpu/wordnet.txt.gz   the corpus, everyday meanings named once (about 1.2 MB):
#       python scripts/make_corpus.py --name-once --min-tag-count 1 --out corpus.txt && gzip -c corpus.txt > .gpu/wordnet.txt.gz
#   .gpu/run-*.tar.*      START=carried only: the parts an earlier lease left in its $OUT
#   .whl/                 optional: transformers 4.53.3 and the tokenizers / huggingface_hub it needs,
#                         for the parity tests (the reference version our tests pin)
# Leaves in $OUT: log.txt (everything printed), train.txt (the run's progress), probes.json (the
# held-out probes, bundled model against the new one), model.tar (the float16 export with its
# tokenizer, eval_results.json, loss_curve.png and the run's trainer_state.json with its history)
# and run-DIGEST.tar.NNofMM (the run, for the next lease): at most 8 files.
# Check it on a CPU first:
#   BACKEND=numpy CHECKS=0 STEPS=60 WARMUP_STEPS=4 BATCH_SIZE=8 VOCAB_SIZE=2000 CALIBRATION_STEPS=4 FIT_SECONDS=60 bash bench/gpu_session.sh
set -uo pipefail
SCRIPT_START=$SECONDS
OUT=${OUT:-/tmp/gpu-out}
BACKEND=${BACKEND:-cupy}
START=${START:-scratch}
case "$START" in
    continue) DEFAULT_LR=5e-4 DEFAULT_WARMUP=300 ;;
    scratch|carried) DEFAULT_LR=1e-3 DEFAULT_WARMUP=400 ;;  # carried: its checkpoint's own values win
    *) echo "START must be scratch, continue or carried, not $START"; exit 2 ;;
esac
STEPS=${STEPS:-4000}
BATCH_SIZE=${BATCH_SIZE:-128}
MAX_SEQ_LENGTH=128
LR=${LR:-$DEFAULT_LR}
WARMUP_STEPS=${WARMUP_STEPS:-$DEFAULT_WARMUP}
VOCAB_SIZE=${VOCAB_SIZE:-16000}
FIT_SECONDS=${FIT_SECONDS:-}
CALIBRATION_STEPS=${CALIBRATION_STEPS:-200}
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
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
python3 -c "import numpy, torch, transformers; print('numpy', numpy.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__)"
python3 -c "import cupy; print('cupy', cupy.__version__)" 2>/dev/null

# 1. The checks first, each alone on the GPU (and before the run is fitted to the time left):
# forward speed, CuPy vs torch CUDA (eager attention), same weights, same inputs, full float32 on
# both sides; then the CuPy tests: forward parity of every head against transformers, the
# model's move to the GPU and back, and NCCL across two processes.
if [ "$CHECKS" = 1 ]; then
    echo "== forward benchmark ($((SECONDS - SCRIPT_START)) s)"
    timeout -k 10 90 python3 bench/bench_forward.py --backend cupy --batch-sizes 1 8 32 --repeats 20
    echo "== CuPy tests ($((SECONDS - SCRIPT_START)) s)"
    timeout -k 10 150 python3 -m pytest -q -p no:cacheprovider -rs tests/test_parity.py tests/test_distributed.py \
        -k "cupy or cuda or nccl" 2>&1 | tail -8
fi

CORPUS=/tmp/wordnet.txt
gunzip -c .gpu/wordnet.txt.gz > "$CORPUS" || { echo "no corpus: make .gpu/wordnet.txt.gz"; exit 1; }
RUN=/tmp/mini-run
rm -rf "$RUN"
DONE=0  # the steps the run had taken before this lease
if [ "$START" = carried ]; then
    python3 bench/carry_run.py unpack .gpu "$RUN" || exit 1
    rm -f "$RUN/eval_results.json"  # the earlier lease's; this one writes its own
    read -r DONE BATCH_SIZE WARMUP_STEPS < <(python3 -c "import json; state = json.load(open('$RUN/checkpoint/trainer_state.json')); args = state['args']; print(state['step'], args['batch_size'], args['warmup_steps'])")
    [ -n "$WARMUP_STEPS" ] || { echo "cannot read the carried run's step and batch size"; exit 1; }
    # The calibration steps extend the finished schedule provisionally; the fitted resume replaces it.
    FIRST=(--resume --steps "$((DONE + STEPS))")
    echo "carried run at step $DONE (batches of $BATCH_SIZE)"
else
    if [ "$START" = scratch ]; then
        FIRST=(--config bench/mini_h512.json --vocab-size "$VOCAB_SIZE" --output-bias-init log-frequency)
    else
        FIRST=(--init-from tinyalbert/data/tinyalbert-mini)
    fi
    FIRST+=(--steps "$STEPS" --batch-size "$BATCH_SIZE" --max-seq-length "$MAX_SEQ_LENGTH"
            --lr "$LR" --warmup-steps "$WARMUP_STEPS" --optimizer adamw --weight-decay 0.01 --clip-norm 1.0
            --masking dynamic --pack-documents --heldout-fraction 0.02 --seed 0)
fi
pretrain() {
    CUPY_TF32=$TF32 python3 -m tinyalbert.pretrain --corpus "$CORPUS" --out "$RUN" --backend "$BACKEND" \
        --save-every 1000 --log-every 50 "$@" >> "$OUT/train.txt" 2>&1
}

# 2. The run, fitted to the lease: calibrate, then resume with as many steps as the time allows.
echo "== training ($((SECONDS - SCRIPT_START)) s)"
if [ -n "$FIT_SECONDS" ]; then
    # At most half the time left: a slow start leaves the other half to the fitted run.
    CALIBRATION_MINUTES=$(python3 -c "print(max($((FIT_SECONDS - (SECONDS - SCRIPT_START))), 60) / 2 / 60)")
    pretrain "${FIRST[@]}" --stop-at "$((DONE + CALIBRATION_STEPS))" --max-minutes "$CALIBRATION_MINUTES" \
        || { echo "calibration run failed"; tail -20 "$OUT/train.txt"; exit 1; }
    # A first copy of the run for the next lease, in case this one ends before the last.
    python3 bench/carry_run.py pack "$RUN" "$OUT" || echo "packing failed"
    # The last progress line's speed (tokens that are not padding, per second, over its last
    # 50 steps); packed examples are about 87% tokens (measured: 16k vocabulary, 128 positions),
    # taken as 90%, and 5% of the time is kept in reserve (saves every 1000 steps, the log).
    TOKENS_PER_SECOND=$(tr '\r' '\n' < "$OUT/train.txt" | grep -o '[0-9,]* tok/s' | tail -1 | tr -d ', tok/s')
    [ -n "$TOKENS_PER_SECOND" ] || { echo "no speed in the calibration run's log"; tail -20 "$OUT/train.txt"; exit 1; }
    LEFT=$((FIT_SECONDS - (SECONDS - SCRIPT_START) - 15))  # 15 s: the resumed run reads its data again
    FITTED=$(python3 -c "import json; print(json.load(open('$RUN/checkpoint/trainer_state.json'))['step'])")
    # At least one step more, and never fewer than the warm-up (the trainer refuses a schedule
    # that ends inside its warm-up).
    STEPS=$(python3 -c "print(max($FITTED + 1, $WARMUP_STEPS + 1, $FITTED + int(0.95 * $TOKENS_PER_SECOND * $LEFT / (0.9 * $BATCH_SIZE * $MAX_SEQ_LENGTH))))")
    echo "calibrated: $TOKENS_PER_SECOND tokens/s, $LEFT s left: $STEPS steps in all"
    pretrain --resume --steps "$STEPS" --max-minutes "$(python3 -c "print(max($LEFT, 30) / 60)")" &
else
    pretrain "${FIRST[@]}" &
fi
TRAIN_PID=$!
wait $TRAIN_PID
echo "train exit status $? ($((SECONDS - SCRIPT_START)) s)"
tr '\r' '\n' < "$OUT/train.txt" | grep -v '^$' | awk 'NR<=3 || /tinyalbert pretraining|calibrat|held-out|done|stopped|changed|rror/ || NR%10==0' | tail -40

# 3. The run for the next lease, first: it is worth having even if what follows fails.
echo "== packing the run ($((SECONDS - SCRIPT_START)) s)"
python3 bench/carry_run.py pack "$RUN" "$OUT" || echo "packing failed"

# 4. The float16 export (as the bundled model ships) in one archive, then the probes (the slowest).
# A run stopped by its time limit has no final model: its last checkpoint stands in.
MODEL=$RUN/final
[ -d "$MODEL" ] || { MODEL=$RUN/checkpoint; echo "no final model: exporting the last checkpoint"; }
[ -f "$MODEL/model.safetensors" ] || { echo "no model to export"; exit 1; }
python3 -c "from tinyalbert.train.checkpoints import export_pretrained; export_pretrained('$MODEL', '$RUN/export')"
cp "$RUN/loss_curve.png" "$RUN/eval_results.json" "$RUN/checkpoint/trainer_state.json" "$RUN/export/" 2>/dev/null
tar -cf "$OUT/model.tar" -C "$RUN" export
echo "== probes ($((SECONDS - SCRIPT_START)) s)"
python3 bench/probe_mini.py --corpus "$CORPUS" tinyalbert/data/tinyalbert-mini "$RUN/export" --json "$OUT/probes.json"
ls -la "$OUT"
echo "done ($((SECONDS - SCRIPT_START)) s)"
