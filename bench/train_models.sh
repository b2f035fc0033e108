#!/bin/bash
# Trains the shipped default model and the seed architectures on ../shared/data, exactly as
# recorded in docs/benchmarks.md ("Training"), and evaluates each exported file through the app's
# runner. Outputs go to runs/ (gitignored). Usage: bench/train_models.sh [default|seeds|all]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=../shared/data
COMMON=(--data-dir "$DATA/speech_commands" --unknown-dir "$DATA/negatives/precise"
        --exclude-dir "$DATA/negatives/precise/heysavant/not-wake-words" --epochs 80 --threads 1 --quiet
        --unknown-percentage 40 --unknown-window-hop-ms 250)
EVAL=(--data-dir "$DATA/speech_commands" --unknown-dir "$DATA/negatives/precise"
      --exclude-dir "$DATA/negatives/precise/heysavant/not-wake-words" --quiet)

train() {  # name, minutes, learning rate
  local started=$SECONDS
  python -m training train "${COMMON[@]}" --model "$1" --time-budget-min "$2" --learning-rate "$3" \
    --output-dir "runs/$1" --export "runs/$1/$1.onnx"
  echo "$1: wall time $(( (SECONDS - started) / 60 )) min"
  python -m training evaluate --model "runs/$1/$1.onnx" "${EVAL[@]}" --json "runs/$1/app_test.json"
}

what=${1:-all}
if [[ $what == default || $what == all ]]; then
  train ds_tcresnet 40 3e-3
fi
if [[ $what == seeds || $what == all ]]; then
  # Equal epochs rather than equal minutes: on a shared machine a time budget measures the
  # neighbours. Data are decoded once for all models.
  python bench/train_seed_models.py --epochs 8 --output-dir runs/seeds
fi
