#!/usr/bin/env bash
# Train the default model, or continue it from its committed state: the command docs/MODEL_CARD.md cites.
# The run folder is tracked, so a fresh clone continues where the last stop left off (`--resume`). Finished runs
# keep their record and final weights; their resume.pt is dropped from the tree (docs/MODEL_CARD.md, "Run records").
# Recipe: the winning pilot's (tools/pilots.py, docs/EVALUATION.md "Choosing the default model": width 16,
# 8x64x64 clips, no colour jitter, one thread) with a camera pan of up to 32 source pixels (`--camera 32`), a
# 0.1-epoch warm-up and cosine decay to zero. OUT picks the run folder; extra arguments go to `mosi-tool train`
# (e.g. `--epochs 8`). Follow it on DAVIS with `python tools/track_davis.py "$OUT"`.
#
#   tools/train_default.sh                                        # the 3-epoch camera-pan run, training/state/camera
#   OUT=training/state/camera8 tools/train_default.sh --epochs 8  # the longer run
#   OUT=training/state/camjit12 tools/train_default.sh --epochs 12 # camjit8 (--jitter) continued from a copy
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-training/state/camera}"
MOSI="${MOSI:-.venv/bin/mosi-tool}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
if [ -f "$OUT/resume.pt" ]; then
    exec "$MOSI" train --resume --out "$OUT" "$@"
fi
exec "$MOSI" train --data imagenet \
    --root ../shared/data/images/imagenet-sample --root ../shared/data/images/imagenette-val \
    --width 16 --frames 8 --crop 64 --source-size 160 --no-jitter --camera 32 \
    --epochs 3 --warmup-epochs 0.1 --batch-size 8 --val-fraction 0.05 --precision auto --workers 2 \
    --out "$OUT" "$@"
