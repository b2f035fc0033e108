#!/usr/bin/env bash
# Build the kws desktop app as one folder: dist/kws/ (run dist/kws/kws-app).
#
#   packaging/build.sh            # uses .venv/bin/python, or creates build/venv when there is none
#   PYTHON=/path/to/python packaging/build.sh
#   KWS_DIST_DIR=/tmp/out KWS_WORK_DIR=/tmp/work packaging/build.sh   # elsewhere (the tests do)
#
# The Python used must have kws's run-time dependencies; PyInstaller (the `package` extra) is
# installed into it when missing. Whatever assets/*.onnx holds at build time is bundled.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR"
DIST_DIR="${KWS_DIST_DIR:-$REPO_DIR/dist}"
WORK_DIR="${KWS_WORK_DIR:-$REPO_DIR/build/pyinstaller}"

if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then
        PYTHON=.venv/bin/python
    else
        echo "no .venv: creating build/venv with kws and PyInstaller" >&2
        python3 -m venv build/venv
        PYTHON=build/venv/bin/python
    fi
fi

if ! "$PYTHON" -c "import PyInstaller, kws_app, PySide6, onnxruntime" 2>/dev/null; then
    "$PYTHON" -m pip install --quiet -e ".[package]"
fi

"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST_DIR" --workpath "$WORK_DIR" packaging/kws.spec

# What a user needs to put the app in their desktop's menu travels with it.
APP_DIR="$DIST_DIR/kws"
cp packaging/kws.desktop packaging/install-desktop-entry.sh "$APP_DIR/"
cp assets/kws.png "$APP_DIR/kws.png"
echo "built $APP_DIR ($(du -sh "$APP_DIR" | cut -f1)); run $APP_DIR/kws-app"
