#!/usr/bin/env bash
# Train the default model, or continue it from its committed state: the command docs/MODEL_CARD.md cites.
# The run folder is tracked, so a fresh clone continues where the last stop left off (`--resume`).
# Recipe: the winning pilot's (tools/pilots.py, docs/EVALUATION.md "Choosing the default model") over 6 epochs
# with a 0.1-epoch warm-up and cosine decay to zero, one thread, as the pilot ran. Follow it on DAVIS with
# `python tools/track_davis.py training/state/default`.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=training/state/default
MOSI="${MOSI:-.venv/bin/mosi-tool}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
if [ -f "$OUT/resume.pt" ]; then
    exec "$MOSI" train --resume --out "$OUT" "$@"
fi
exec "$MOSI" train --data imagenet \
    --root ../shared/data/images/imagenet-sample --root ../shared/data/images/imagenette-val \
    --width 16 --frames 8 --crop 64 --source-size 160 --no-jitter \
    --epochs 6 --warmup-epochs 0.1 --batch-size 8 --val-fraction 0.05 --precision auto --workers 2 \
    --out "$OUT" "$@"
