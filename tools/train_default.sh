#!/usr/bin/env bash
# Train the default model, or continue it from its committed state: the command docs/MODEL_CARD.md cites.
# The run folder is tracked, so a fresh clone continues where the last stop left off (`--resume`).
# Recipe chosen by tools/pilots.py (docs/EVALUATION.md, "Choosing the default model").
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=training/state/default
MOSI="${MOSI:-.venv/bin/mosi-tool}"
if [ -f "$OUT/resume.pt" ]; then
    exec "$MOSI" train --resume --out "$OUT" "$@"
fi
exec "$MOSI" train --data imagenet \
    --root ../shared/data/images/imagenet-sample --root ../shared/data/images/imagenette-val \
    --width 16 --frames 8 --crop 64 --source-size 160 --no-jitter \
    --epochs 30 --warmup-epochs 3 --batch-size 8 --val-fraction 0.05 --precision auto \
    --out "$OUT" "$@"
