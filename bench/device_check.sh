#!/bin/bash
# The CUDA paths on a GPU machine, proved and timed against that machine's CPU:
#   1. `kws-app --wav --provider cuda` (replay of a 10-minute file) and the per-stride cost of the
#      live path, each on CUDA and on the CPU;
#   2. the model on batches (as `training evaluate` and the stream bench run it), CUDA vs CPU;
#   3. `python -m training train --device cuda` with the shipped recipe on a thinned copy of the
#      data (bench/data_subset.py), against `--device cpu`, then the exported file through the app.
# Usage (on the GPU machine, from the repository root):
#   bench/device_check.sh WHEELS_DIR DATA_DIR [EPOCHS]
# WHEELS_DIR holds onnxruntime-gpu and the app's packages that machine lacks; they are installed
# into its Python, as a user with PyTorch's CUDA wheels would have them. Every step runs even when
# one before it failed, and says how it ended.
set -u
WHEELS=$1
DATA=$2
EPOCHS=${3:-4}
PY=${PYTHON:-python3}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1

step() { echo; echo "=== $*"; }
run() { local started=$SECONDS; "$@"; local rc=$?; echo "--- exit $rc after $((SECONDS - started)) s: $*"; }

step machine
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "cpus: $(nproc)"
$PY -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"

step install
$PY -m pip uninstall -y -q onnxruntime onnxruntime-gpu 2>&1 | tail -1
run $PY -m pip install -q --no-index --no-deps --no-cache-dir "$WHEELS"/*.whl
$PY -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())"

step "kws-app --wav, 10 min of audio"
for provider in cuda cpu; do
  run $PY bench/replay_throughput.py --provider $provider --minutes 10 --clips-dir "$DATA/speech_commands"
done

step "live path, one stride at a time"
for provider in cuda cpu; do
  run $PY bench/core_stride_cost.py --provider $provider --strides 3000
done

step "the model on batches"
$PY - <<'PY'
import time
import numpy as np
from kws_app.inference.loading import load_model

for provider in ("cuda", "cpu"):
    model = load_model(None, provider)
    for batch in (1, 64, 512):
        shape = (batch, *model.frontend.input_shape)
        features = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        model.predict(features)
        repeats = max(3, 2048 // batch)
        started = time.perf_counter()
        for _ in range(repeats):
            model.predict(features)
        per_clip = (time.perf_counter() - started) / (repeats * batch) * 1e3
        print(f"{model.provider}: batch {batch}: {per_clip:.4f} ms per clip")
PY

step "training, shipped recipe on the thinned data"
D=$DATA
RECIPE=(--data-dir $D/speech_commands --unknown-dir $D/negatives/precise
  --exclude-dir $D/negatives/precise/heysavant/not-wake-words
  --exclude-dir $D/speech_commands/happy --exclude-dir $D/speech_commands/house
  --exclude-dir $D/speech_commands/marvin --exclude-dir $D/speech_commands/sheila
  --exclude-dir $D/speech_commands/wow
  --unknown-percentage 40 --unknown-window-hop-ms 250 --label-smoothing 0
  --stream-examples --speech-negatives $D/negatives/speech
  --speech-share 0.2 --hard-share 0.1 --end-delay-ms 0 400
  --mining-points 0.25,0.45,0.65,0.8 --model ds_tcresnet --quiet)
for device in cuda cpu; do
  run $PY -m training train "${RECIPE[@]}" --epochs "$EPOCHS" --device $device --threads 8 \
    --output-dir /tmp/train_$device --export /tmp/train_$device/model.onnx
done
run $PY -m kws_app --wav "$(ls "$D"/speech_commands/yes/*.flac | head -1)" \
  --model /tmp/train_cuda/model.onnx --provider cuda
