"""A status line on stderr while `exhort check` works, so a terminal is never left silent.

A thread redraws the line every quarter second once the run has taken half a second: the
phase, files done out of all, the seconds spent, and the file holding the run up when one
has taken more than a second (one large file checks for tens of seconds). Files are done in
whatever order the workers finish them; the first file of the phase not yet done is the one
named as waited for. Nothing is drawn when stderr is not a terminal: logs and pipes get no
control characters.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

# Held while the line is written. Worker processes are forked while the drawing thread runs:
# holding this lock across the fork means no fork happens in the middle of a write, so no
# child inherits the stream's buffer locked by a thread that does not exist there.
_WRITING = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_WRITING.acquire, after_in_parent=_WRITING.release,
                        after_in_child=_WRITING.release)

SHOW_AFTER = 0.5  # seconds before anything is drawn: quick runs stay quiet
NAME_AFTER = 1.0  # seconds one file may hold the run up before it is named
TICK = 0.25


class Progress:
    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self._lock = threading.Lock()
        self._phase = ""
        self._paths: list[str] = []
        self._done = 0
        self._finished: set[str] = set()  # paths done, in whatever order
        self._waited = 0  # _paths before this one are done
        self._started = self._moved = time.monotonic()
        self._width = 0  # of the line drawn last, to blank it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def phase(self, name: str, paths: list[str]) -> None:
        """Start a phase ("indexing", "checking") over `paths`."""
        if not self.enabled:
            return
        with self._lock:
            self._phase, self._paths, self._done = name, paths, 0
            self._finished, self._waited = set(), 0
            self._moved = time.monotonic()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="exhort-progress", daemon=True)
            self._thread.start()

    def advance(self, path: str) -> None:
        """`path`, one of the phase's, is done."""
        if self.enabled:
            with self._lock:
                self._done += 1
                self._moved = time.monotonic()
                self._finished.add(path)

    def close(self) -> None:
        """Stop drawing and blank the line, before the report is written."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self._clear()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # -- drawing ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            if time.monotonic() - self._started >= SHOW_AFTER:
                self._draw(self.status())

    def status(self) -> str:
        with self._lock:
            now = time.monotonic()
            total = len(self._paths)
            parts = [f"{self._phase} {self._done}/{total} file{'s' if total != 1 else ''}",
                     f"{now - self._started:.0f} s"]
            if self._done < total and now - self._moved >= NAME_AFTER:
                while self._waited < total - 1 and self._paths[self._waited] in self._finished:
                    self._waited += 1
                path = self._paths[self._waited]
                parts.append(f"waiting for {_short(path)}{_size(path)}")
        return " · ".join(parts)

    def _draw(self, text: str) -> None:
        columns = _columns(self.stream)
        text = text[: columns - 1]
        with _WRITING:
            try:
                self.stream.write("\r" + text + " " * max(self._width - len(text), 0) + "\r")
                self.stream.flush()
            except (OSError, ValueError):  # the terminal went away: stop drawing, never fail the run
                self._stop.set()
            self._width = len(text)

    def _clear(self) -> None:
        if self._width:
            try:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self._width = 0


def _short(path: str) -> str:
    return os.path.normpath(path)  # as the user named it, without ./


def _size(path: str) -> str:
    try:
        size = os.stat(path).st_size
    except OSError:
        return ""
    return f" ({size / 1_048_576:.1f} MB)" if size >= 1_048_576 else f" ({size // 1024} KB)"


def _columns(stream: TextIO) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        columns = 0
    return columns if columns > 0 else 80  # a terminal that reports no size (a bare pty)
