"""Draw the app icon: assets/kws.svg (the source) and assets/kws.png (256 px, for .desktop files).

A script rather than a hand-edited file so the icon can be changed in one place and stays in the
app's theme colours (kws_app/ui/theme.py: ACCENT bars, the LIT bars are the spotted word).
Run: .venv/bin/python packaging/make_icon.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
SIZE_PX = 256
BAR_HEIGHTS = (20, 40, 28, 100, 160, 124, 36, 52, 24)
LIT_BARS = frozenset({3, 4, 5})
BAR_WIDTH = 14
BAR_PITCH = 22
ACCENT = "#4fc3f7"
LIT = "#ffb74d"


def icon_svg() -> str:
    """A rounded dark tile with a row of sound bars; the tall middle ones are lit like a word."""
    centre = SIZE_PX / 2
    row_width = len(BAR_HEIGHTS) * BAR_PITCH - (BAR_PITCH - BAR_WIDTH)
    left = centre - row_width / 2
    bars = []
    for index, height in enumerate(BAR_HEIGHTS):
        colour = LIT if index in LIT_BARS else ACCENT
        bars.append(
            f'  <rect x="{left + index * BAR_PITCH:g}" y="{centre - height / 2:g}" '
            f'width="{BAR_WIDTH}" height="{height}" rx="{BAR_WIDTH // 2}" fill="{colour}"/>'
        )
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE_PX}" height="{SIZE_PX}" '
            f'viewBox="0 0 {SIZE_PX} {SIZE_PX}">',
            "  <title>kws: a word lit up in a stream of sound</title>",
            "  <defs>",
            '    <linearGradient id="bg" x1="0" y1="0" x2="0" y2="1">',
            '      <stop offset="0" stop-color="#262b35"/>',
            '      <stop offset="1" stop-color="#15181e"/>',
            "    </linearGradient>",
            "  </defs>",
            '  <rect x="8" y="8" width="240" height="240" rx="48" fill="url(#bg)" '
            'stroke="#2b313c" stroke-width="4"/>',
            *bars,
            "</svg>",
            "",
        ]
    )


def render_png(svg_path: Path, png_path: Path) -> None:
    """Rasterise with Qt's SVG renderer (offscreen, no display needed), transparent corners."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    image = QImage(SIZE_PX, SIZE_PX, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(str(svg_path)).render(painter)
    painter.end()
    if not image.save(str(png_path)):
        raise OSError(f"could not write {png_path}")


def main() -> int:
    svg_path = ASSETS_DIR / "kws.svg"
    png_path = ASSETS_DIR / "kws.png"
    svg_path.write_text(icon_svg(), encoding="utf-8")
    render_png(svg_path, png_path)
    print(f"wrote {svg_path} and {png_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
