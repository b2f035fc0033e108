#!/bin/bash
# Trains the shipped default model and the seed architectures on ../shared/data, exactly as
# recorded in docs/benchmarks.md ("Training"), and evaluates each exported file through the app's
# runner; the shipped one is also calibrated (copy runs/stream_v4/calibrated.onnx to assets/).
# Outputs go to runs/ (gitignored). Usage: bench/train_models.sh [default|seeds|all]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=../shared/data
EVAL=(--data-dir "$DATA/speech_commands" --unknown-dir "$DATA/negatives/precise"
      --exclude-dir "$DATA/negatives/precise/heysavant/not-wake-words" --quiet)

# The shipped model (run 4 in docs/benchmarks.md): stream-shaped examples, speech negatives, hard
# negatives mined four times, the custom-word benchmark's words kept out; then per-word thresholds
# and the averaging window from the validation streams (built by stream_benchmark.py's recipes).
shipped() {
  local out=runs/stream_v4 reserved=()
  for word in happy house marvin sheila wow; do
    reserved+=(--exclude-dir "$DATA/speech_commands/$word")
  done
  python -m training train --data-dir "$DATA/speech_commands" --unknown-dir "$DATA/negatives/precise" \
    --exclude-dir "$DATA/negatives/precise/heysavant/not-wake-words" "${reserved[@]}" \
    --unknown-percentage 40 --unknown-window-hop-ms 250 --label-smoothing 0 \
    --stream-examples --speech-negatives "$DATA/negatives/speech" \
    --speech-share 0.2 --hard-share 0.1 --end-delay-ms 0 400 --mining-points 0.25,0.45,0.65,0.8 \
    --model ds_tcresnet_wide --epochs 400 --time-budget-min 68 --threads 1 \
    --output-dir "$out" --export "$out/model.onnx"
  python -m training evaluate --model "$out/model.onnx" "${EVAL[@]}" --json "$out/evaluate.json"
  (cd bench && python -c '
import sys
from pathlib import Path
import stream_benchmark as bench
for recipe in bench.RECIPES:
    if recipe.name in ("val_cmd_10db", "val_neg"):
        bench.build_stream(recipe, Path(sys.argv[1]), Path(sys.argv[2]))
' "../$DATA" ../runs/streams)
  python -m training calibrate --model "$out/model.onnx" \
    --wav runs/streams/val_cmd_10db.wav --labels runs/streams/val_cmd_10db.csv \
    --negatives-wav runs/streams/val_neg.wav --negatives-labels runs/streams/val_neg.csv \
    --clip-stride-ms 50 --average-window-ms 200,300,400,500 --minimum-count 3 \
    --max-latency-p95-ms 450 --out "$out/calibrated.onnx"
}

what=${1:-all}
if [[ $what == default || $what == all ]]; then
  shipped
fi
if [[ $what == seeds || $what == all ]]; then
  # Equal epochs rather than equal minutes: on a shared machine a time budget measures the
  # neighbours. Data are decoded once for all models.
  python bench/train_seed_models.py --epochs 8 --output-dir runs/seeds
fi
