"""Merges `bench/words_fewshot.py --json` files: per setting, and per word, what was found.

Usage: .venv/bin/python bench/words_summary.py runs/win/wide_a.json runs/win/wide_b.json

A long validation run is split over processes by word (each with --json); this reads them
together. Per (examples, pass rate, window): the draws, the share found, false accepts per hour
(all, and where the sentence does not say the word: mean, median, max) and the latency after the
word's end (median, 95th percentile, pooled); then each word's share found and false accepts per
hour (not said) for every setting.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from words_fewshot import pooled_latency

Setting = tuple[str, float, int]


def settings_of(rows: list[dict[str, Any]]) -> dict[Setting, list[dict[str, Any]]]:
    groups: dict[Setting, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["condition"], row["rate"], row["window_ms"])].append(row)
    return dict(sorted(groups.items()))


def setting_line(setting: Setting, rows: list[dict[str, Any]]) -> str:
    condition, rate, window_ms = setting
    unsaid = [row["fa_per_hour_unsaid"] for row in rows]
    pooled = pooled_latency(rows)
    latency = "none detected" if pooled is None else f"{pooled[0]:.0f} / {pooled[1]:.0f} ms"
    return (
        f"| {condition}, pass rate {rate}, window {window_ms} ms | {len(rows)} | "
        f"{np.mean([row['detection'] for row in rows]):.1%} | "
        f"{np.mean([row['fa_per_hour'] for row in rows]):.2f} | "
        f"{np.mean(unsaid):.2f} ({np.median(unsaid):.1f}, {max(unsaid):.1f}) | {latency} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+", help="words_fewshot.py --json outputs")
    args = parser.parse_args()
    rows = [row for path in args.files for row in json.loads(path.read_text())]
    groups = settings_of(rows)
    print(
        "| examples, setting | draws | found | false accepts / h | where not said: mean "
        "(median, max) | after the word's end: median / p95 |"
    )
    print("|---|---|---|---|---|---|")
    for setting, picked in groups.items():
        print(setting_line(setting, picked))
    print()
    for word in sorted({row["word"] for row in rows}):
        parts = []
        for (condition, rate, window_ms), picked in groups.items():
            mine = [row for row in picked if row["word"] == word and condition == "5 speakers"]
            if mine:
                found = np.mean([row["detection"] for row in mine])
                unsaid = np.mean([row["fa_per_hour_unsaid"] for row in mine])
                parts.append(f"{window_ms} ms / {rate}: {found:.0%} at {unsaid:.1f}/h")
        print(f"{word:10s} " + " | ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
