#!/usr/bin/env bash
# Put the built kws app into the current user's application menu (no root needed):
# a kws-app command in ~/.local/bin, the icon and a .desktop entry under ~/.local/share.
# Run it from the built folder: ./install-desktop-entry.sh   (again after moving the folder).
set -euo pipefail

APP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
BIN_DIR="$HOME/.local/bin"

mkdir -p "$BIN_DIR" "$DATA_HOME/applications" "$DATA_HOME/icons/hicolor/256x256/apps"
ln -sf "$APP_DIR/kws-app" "$BIN_DIR/kws-app"
cp "$APP_DIR/kws.png" "$DATA_HOME/icons/hicolor/256x256/apps/kws.png"
sed "s|^Exec=.*|Exec=\"$APP_DIR/kws-app\"|" "$APP_DIR/kws.desktop" \
    > "$DATA_HOME/applications/kws.desktop"
echo "installed: $BIN_DIR/kws-app and $DATA_HOME/applications/kws.desktop"
