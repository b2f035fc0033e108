"""Which PulseAudio source this process records from, and a watch that says when that changes.

PulseAudio (and PipeWire's PulseAudio server) moves recording streams on its own: a headset is
plugged in, the default source is changed in the desktop's sound settings, a device goes away.
PortAudio's `pulse` device is not told, so without this the app would keep saying "listening on
pulse" while it hears another microphone. `pactl` is the sound server's own command line tool;
its listing of source outputs names the process each stream belongs to
(`application.process.id`) and the source it records from.

Everything here is best effort and never in the way: no `pactl`, no server, or a stream that is
not on PulseAudio (an ALSA `hw:` device) simply gives None and no report. Queries run in a child
process with a timeout, on the watch's own daemon thread, never on the audio callback or the GUI
thread.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PACTL_TIMEOUT_S",
    "POLL_INTERVAL_S",
    "PulseQuery",
    "PulseSource",
    "SourceWatch",
]

logger = logging.getLogger(__name__)

PACTL = "pactl"
# How often the watch asks; a move is shown within about this long. One query costs a few ms of
# CPU in a short-lived child process.
POLL_INTERVAL_S = 2.0
# A healthy server answers in milliseconds; one that takes longer is busy or hung: skip this poll.
PACTL_TIMEOUT_S = 1.0
PROCESS_ID_PROPERTY = "application.process.id"

_TEXT_OBJECT = re.compile(r"^(Source Output|Source) #(\d+)\s*$")
_TEXT_FIELD = re.compile(r"^\t([A-Za-z][A-Za-z ]*): ?(.*)$")
_TEXT_PROPERTY = re.compile(r'^\t\t([\w.-]+) = "(.*)"$')


@dataclass(frozen=True)
class PulseSource:
    """A PulseAudio source: its index, its name (what `pactl` takes) and what desktops show."""

    index: int
    name: str
    description: str

    def describe(self) -> str:
        if self.description and self.description != self.name:
            return f"{self.description} ({self.name})"
        return self.name


@dataclass(frozen=True)
class _Record:
    """One object of a `pactl list` output, in either format."""

    index: int
    fields: dict[str, str]
    properties: dict[str, str]


class PulseQuery:
    """`pactl` queries, in its JSON format where it has one (PulseAudio 16 and later), else in its
    text format (forced to the C locale, so the field names are English)."""

    def __init__(self, timeout_s: float = PACTL_TIMEOUT_S, use_json: bool | None = None) -> None:
        self.timeout_s = timeout_s
        self._use_json = use_json  # None: try JSON once, then keep what worked
        self._sources: dict[int, PulseSource] = {}
        self.answered = False  # whether the server has answered at least once

    def _run(self, *args: str) -> str | None:
        """pactl's output, or None: not installed, no server, an error or no answer in time."""
        environment = {**os.environ, "LC_ALL": "C"}
        try:
            result = subprocess.run(
                [PACTL, *args],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.timeout_s,
                env=environment,
            )
        except (OSError, subprocess.SubprocessError) as error:
            logger.debug("pactl %s failed: %s", " ".join(args), error)
            return None
        if result.returncode != 0:
            logger.debug("pactl %s: %s", " ".join(args), result.stderr.strip()[:200])
            return None
        self.answered = True
        return result.stdout

    def _list(self, kind: str) -> list[_Record] | None:
        """The objects of `pactl list <kind>`, or None when the server cannot be asked."""
        if self._use_json is not False:
            output = self._run("-f", "json", "list", kind)
            records = _parse_json(output) if output is not None else None
            if records is not None:
                self._use_json = True
                return records
            if self._use_json:
                return None  # JSON worked before: the server failed, not the format
        output = self._run("list", kind)
        if output is None:
            return None
        if self._use_json is None:
            logger.info("this pactl has no JSON output; reading its text format")
            self._use_json = False
        return _parse_text(output, kind)

    def recording_sources(self, pid: int) -> list[tuple[int, int]] | None:
        """(stream index, source index) of each recording stream of process `pid`, oldest
        first; None when the sound server cannot be asked."""
        records = self._list("source-outputs")
        if records is None:
            return None
        found: list[tuple[int, int]] = []
        for record in records:
            if record.properties.get(PROCESS_ID_PROPERTY) != str(pid):
                continue
            source = record.fields.get("Source", "")
            if source.isdigit():
                found.append((record.index, int(source)))
        return sorted(found)

    def source(self, index: int) -> PulseSource | None:
        """The source with this index (sources are listed again only for an index not seen)."""
        if index not in self._sources:
            records = self._list("sources")
            if records is None:
                return None
            self._sources = {
                record.index: PulseSource(
                    record.index,
                    record.fields.get("Name", ""),
                    record.fields.get("Description", ""),
                )
                for record in records
            }
        return self._sources.get(index)

    def recording_source(self, pid: int) -> PulseSource | None:
        """The source that process `pid`'s newest recording stream records from, or None."""
        streams = self.recording_sources(pid)
        if not streams:
            return None
        return self.source(streams[-1][1])


def _parse_json(output: str) -> list[_Record] | None:
    """Records of `pactl -f json list ...`; None when the output is not that (an old pactl)."""
    try:
        items = json.loads(output)
    except ValueError:
        return None
    if not isinstance(items, list):
        return None
    records: list[_Record] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("index"), int):
            continue
        records.append(
            _Record(
                item["index"],
                {
                    "Source": _text(item.get("source")),
                    "Name": _text(item.get("name")),
                    "Description": _text(item.get("description")),
                },
                _properties(item.get("properties")),
            )
        )
    return records


def _text(value: Any) -> str:
    return str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""


def _properties(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(key): _text(item) for key, item in value.items()}


def _parse_text(output: str, kind: str) -> list[_Record]:
    """Records of `pactl list source-outputs|sources` in the C locale's text format:

    Source Output #4
    <tab>Source: 1
    <tab>Properties:
    <tab><tab>application.process.id = "7230"
    """
    heading = "Source Output" if kind == "source-outputs" else "Source"
    records: list[_Record] = []
    current: _Record | None = None
    for line in output.splitlines():
        started = _TEXT_OBJECT.match(line)
        if started:
            current = (
                _Record(int(started.group(2)), {}, {}) if started.group(1) == heading else None
            )
            if current is not None:
                records.append(current)
            continue
        if current is None:
            continue
        prop = _TEXT_PROPERTY.match(line)
        if prop:
            current.properties[prop.group(1)] = prop.group(2)
            continue
        field = _TEXT_FIELD.match(line)
        if field:
            current.fields.setdefault(field.group(1), field.group(2).strip())
    return records


class SourceWatch:
    """Polls, on a daemon thread, which source this process records from, and calls
    `on_change(source)` on that thread when it differs from the one seen before.

    The first source found is the starting point, not a change. Without `pactl`, or when the
    first query finds no sound server, the watch ends at once and never calls back.
    """

    def __init__(
        self,
        on_change: Callable[[PulseSource], None],
        pid: int | None = None,
        interval_s: float = POLL_INTERVAL_S,
        query: PulseQuery | None = None,
    ) -> None:
        self._on_change = on_change
        self._pid = os.getpid() if pid is None else pid
        self._interval_s = interval_s
        self._query = query or PulseQuery()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.current: PulseSource | None = None  # written by the watch thread only

    def start(self) -> SourceWatch:
        if shutil.which(PACTL) is None:
            logger.debug("no pactl: the recording source is not watched")
            return self
        self._thread = threading.Thread(target=self._run, name="pulse source watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ends the watch without waiting (the GUI thread calls this): a query in flight finishes
        on the daemon thread within its timeout, and reports nothing after this call."""
        self._stop.set()

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def poll(self) -> PulseSource | None:
        """One query: the source now recorded from, reporting it if it changed."""
        source = self._query.recording_source(self._pid)
        if source is None:
            return None
        previous, self.current = self.current, source
        if previous is not None and previous.name != source.name and not self._stop.is_set():
            logger.info(
                "the sound server moved the input from %s to %s", previous.name, source.name
            )
            try:
                self._on_change(source)
            except Exception:  # noqa: BLE001 - the watch must outlive a failing listener
                logger.warning("reporting the new recording source failed", exc_info=True)
        return source

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            if not self._query.answered:
                logger.debug("no PulseAudio server answers: the recording source is not watched")
                return
            self._stop.wait(self._interval_s)

    def __enter__(self) -> SourceWatch:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
