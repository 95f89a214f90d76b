#!/usr/bin/env bash
# Rebuild the bundled tinyalbert-mini: corpus, vocabulary, pretraining, export into the package.
#
#   scripts/train_mini.sh                                 # stage 1: CuPy on a CUDA GPU, 3600 steps of 64
#   BACKEND=numpy STEPS=1200 BATCH_SIZE=16 scripts/train_mini.sh   # the CPU recipe (about 21 minutes on 2 cores)
#   RESUME=1 scripts/train_mini.sh                        # continue an interrupted run
#   RECIPE=new LR=1e-3 scripts/train_mini.sh              # the recipe against the early collapse (below)
#   RECIPE=continue BACKEND=numpy scripts/train_mini.sh   # stage 2: continue the exported model (--init-from)
#   RECIPE=stage4 BACKEND=numpy scripts/train_mini.sh     # stage 4: stage 3's run resumed to 10900 steps
#   RECIPE=stage5 BACKEND=numpy scripts/train_mini.sh     # stage 5: stage 4's run resumed to 15500 steps
#   RECIPE=stage6 BACKEND=numpy scripts/train_mini.sh     # stage 6: stage 5's run resumed to 21000 steps
#
# The shipped model is stage 1 (the default recipe, on a GPU) followed by stage 2 (RECIPE=continue,
# 2800 steps of 16 on a CPU), stage 3 (RESUME=1 RECIPE=continue CONTINUE_STEPS=6300: stage 2's
# run extended to 6300 steps), stage 4 (RECIPE=stage4), stage 5 (RECIPE=stage5) and stage 6
# (RECIPE=stage6): run the script six times, in that order.
#
# Run from the repository root. Everything but the exported model is written under $WORK,
# outside the repository: the WordNet package, the corpus (never commit it) and the run.
# After the export, update tinyalbert/data/tinyalbert-mini/README.md with the new numbers
# (OUT/eval_results.json, the last progress line, and the example predictions printed at the end).
set -euo pipefail

PYTHON=${PYTHON:-python}
WORK=${WORK:-$HOME/tinyalbert-mini-build}
BACKEND=${BACKEND:-cupy}        # numpy | cupy
STEPS=${STEPS:-3600}
BATCH_SIZE=${BATCH_SIZE:-64}
MAX_SEQ_LENGTH=${MAX_SEQ_LENGTH:-128}
LR=${LR:-5e-4}        # 1e-3 collapsed (final-layer cosine 1) with the old zero output bias; see docs/tinyalbert-mini.md
WARMUP_STEPS=${WARMUP_STEPS:-200}
SEED=${SEED:-0}
VOCAB_SIZE=${VOCAB_SIZE:-8000}
RESUME=${RESUME:-}
# The shipped model was trained before the collapse fix: zero output bias, fixed masks, documents
# not packed, and these are the defaults here so that the script reproduces it. RECIPE=new uses
# the trainer's defaults instead (log-frequency output bias, dynamic masking, packed documents);
# see docs/tinyalbert-mini.md for what each did.
RECIPE=${RECIPE:-shipped}
# stage4, stage5, stage6: the continued run resumed from its checkpoint (see step 3)
case "$RECIPE" in stage[4-6]) RESUMED_STAGE=1 ;; *) RESUMED_STAGE= ;; esac
if [ "$RECIPE" = shipped ]; then
    RECIPE_OPTIONS="--output-bias-init zero --masking static --no-pack-documents"
elif [ -n "$RESUMED_STAGE" ]; then
    RECIPE_OPTIONS=""  # a resumed run keeps the options of its checkpoint
elif [ "$RECIPE" = continue ]; then
    # Continued pretraining of the shipped model with fresh masks and packed documents; seed 0 and
    # held-out fraction 0.02 keep the held-out documents of the shipped run out of training.
    STEPS=${CONTINUE_STEPS:-2800}
    BATCH_SIZE=${CONTINUE_BATCH_SIZE:-16}
    WARMUP_STEPS=${CONTINUE_WARMUP_STEPS:-100}
    RECIPE_OPTIONS="--masking dynamic --pack-documents"
else
    RECIPE_OPTIONS="--output-bias-init log-frequency --masking dynamic --pack-documents"
fi
# One BLAS thread: on a small shared CPU, two threads that wait on each other lost to one.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

WORDNET_DIR=${WORDNET_DIR:-/usr/share/wordnet}
CORPUS=$WORK/corpus/wordnet.txt
RUN=$WORK/runs/tinyalbert-mini
EXPORT=tinyalbert/data/tinyalbert-mini

# 1. WordNet 3.0 from Debian's wordnet-base package (installed, or unpacked without installing).
if [ ! -f "$WORDNET_DIR/data.noun" ]; then
    mkdir -p "$WORK/wordnet"
    (cd "$WORK/wordnet" && apt-get download wordnet-base && dpkg -x wordnet-base_*.deb .)
    WORDNET_DIR=$WORK/wordnet/usr/share/wordnet
fi

# 2. The corpus: one sentence per line, a blank line between documents (deterministic).
"$PYTHON" scripts/make_corpus.py --wordnet-dir "$WORDNET_DIR" --out "$CORPUS"

# 3. Vocabulary (SentencePiece, trained on the corpus into $RUN/tokenizer) and pretraining.
# resume continues the run in $RUN from its checkpoint; ON=LAUNCHER puts a launcher such as mpiexec
# in front of it for one call.
resume() { ${ON-} "$PYTHON" -m tinyalbert.pretrain --corpus "$CORPUS" --out "$RUN" --backend "$BACKEND" --resume "$@"; }
if [ "$RECIPE" = continue ] || [ -n "$RESUMED_STAGE" ]; then
    RUN=$WORK/runs/tinyalbert-mini-continued
    # Two processes with half of every batch take the steps of one (docs/distributed.md), 1.6x
    # faster on two cores; LAUNCH="" runs them on one.
    LAUNCH=${LAUNCH-$(command -v mpiexec > /dev/null && echo "mpiexec -n 2" || true)}
    if [ "$RECIPE" = stage4 ]; then
        # Stage 3's run resumed to 10900 steps. The shipped run changed its schedule four times
        # (--steps 9500, then 10300, 12000, 11600 and, when the machine slowed down, 10900) and moved
        # to two processes after step 6674; --stop-at repeats those stops.
        resume --steps 9500 --stop-at 6501
        resume --steps 10300 --stop-at 6674
        ON=$LAUNCH resume --steps 12000 --stop-at 6783
        ON=$LAUNCH resume --steps 11600 --stop-at 9371
        ON=$LAUNCH resume --steps 10900
    elif [ "$RECIPE" = stage5 ]; then
        # Stage 4's run resumed to 15500 steps on two processes. The shipped run was planned for
        # 14500 and extended at step 11334, when it ran faster than expected.
        ON=$LAUNCH resume --steps 14500 --stop-at 11334
        ON=$LAUNCH resume --steps 15500
    elif [ "$RECIPE" = stage6 ]; then
        # Stage 5's run resumed to 21000 steps on two processes, in one go.
        ON=$LAUNCH resume --steps 21000
    elif [ -n "$RESUME" ]; then
        # A larger CONTINUE_STEPS extends a finished run: the learning rate decays to 0 at the new end.
        resume --steps "$STEPS"
    else
        "$PYTHON" -m tinyalbert.pretrain --corpus "$CORPUS" --init-from "$EXPORT" --out "$RUN" \
            --steps "$STEPS" --batch-size "$BATCH_SIZE" --max-seq-length "$MAX_SEQ_LENGTH" --lr "$LR" \
            --warmup-steps "$WARMUP_STEPS" --optimizer adamw --weight-decay 0.01 --clip-norm 1.0 \
            --heldout-fraction 0.02 --seed "$SEED" --save-every 200 --log-every 50 --backend "$BACKEND" $RECIPE_OPTIONS
    fi
    # The probes, the model it started from against the new one, before the export replaces it.
    "$PYTHON" bench/probe_mini.py --corpus "$CORPUS" "$EXPORT" "$RUN/final"
elif [ -n "$RESUME" ]; then
    resume --steps "$STEPS"
else
    "$PYTHON" -m tinyalbert.pretrain --corpus "$CORPUS" --config mini --vocab-size "$VOCAB_SIZE" --out "$RUN" \
        --steps "$STEPS" --batch-size "$BATCH_SIZE" --max-seq-length "$MAX_SEQ_LENGTH" --lr "$LR" \
        --warmup-steps "$WARMUP_STEPS" --optimizer adamw --weight-decay 0.01 --clip-norm 1.0 \
        --heldout-fraction 0.02 --seed "$SEED" --save-every 600 --log-every 100 --backend "$BACKEND" $RECIPE_OPTIONS
fi

# 4. Export: float16 weights (half the size; from_pretrained widens them to float32) + tokenizer + curve.
"$PYTHON" -c "from tinyalbert.train.checkpoints import export_pretrained; export_pretrained('$RUN/final', '$EXPORT')"
cp "$RUN/loss_curve.png" "$EXPORT/loss_curve.png"
cat "$RUN/eval_results.json"

# 5. Example predictions for the README.
"$PYTHON" -m tinyalbert.predict --model "$EXPORT" --top-k 3 \
    "A physician is a [MASK]." \
    "A tulip is a [MASK] that blooms in spring." \
    "A [MASK] is a building where Christians go to worship." \
    "The capital of France is [MASK]." \
    "Paris is the capital and largest city of [MASK]." \
    "A dog is a kind of [MASK]." \
    "To run is to move [MASK] by using one's feet." \
    "Big is the opposite of [MASK]." \
    "The [MASK] is a large body of salt water." \
    "She drank a glass of [MASK]."
