"""`citewise serve --ingest PATH...`: `citewise ingest PATH...` as a child of the service.

The child writes into the served index directory; the service's index watcher picks up each generation it
publishes (the first part of a new index within seconds, then the whole). Its output is forwarded to the
service's terminal with a prefix, its end is reported (with its last lines when it failed), its state is shown
by /readyz, and it is stopped when the service stops.
"""

from __future__ import annotations

import codecs
import collections
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from citewise.core.index import IndexStore
from citewise.core.process import citewise_command, tied_child_env
from citewise.core.settings import ENV_PREFIX

PREFIX = "[ingest] "
# Lines kept for the failure report: enough for the error and what led to it, short enough to read.
TAIL_LINES = 12
# After SIGINT the ingest stops at its next Python instruction (an embedding batch takes well under a second);
# past this it is killed. Either way the published index stays intact: generations are swapped atomically.
STOP_TIMEOUT_S = 10.0
EXIT_SKIPPED = 3  # `citewise ingest`: done, but some files were skipped (it names each)


class BackgroundIngest:
    """Runs `citewise ingest PATHS ARGS` into `index`; `status()` is what /readyz shows about it."""

    def __init__(self, paths: Sequence[Path], index: Path, store: IndexStore, *, args: Sequence[str] = (),
                 out: TextIO | None = None) -> None:
        self.paths = [str(p) for p in paths]
        self.index = Path(index).absolute()
        self.store = store
        self.args = list(args)
        self.out = out or sys.stderr
        self.process: subprocess.Popen[bytes] | None = None
        self.state = "not started"  # then running, finished, failed or stopped
        self.exit_status: int | None = None
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._write_lock = threading.Lock()

    @property
    def command(self) -> str:
        return " ".join(["citewise ingest", *self.paths, *self.args])

    def start(self) -> None:
        """Starts the child; call it from the main thread (on Linux the child's parent-death signal is tied to the
        thread that started it)."""
        # The child stops with the service, even if the service is killed (-9).
        env = tied_child_env(dict(os.environ))
        env[f"{ENV_PREFIX}INDEX"] = str(self.index)  # the served index, however the service was told of it
        env["PYTHONUNBUFFERED"] = "1"  # progress lines as they happen, not when a pipe buffer fills
        self.process = subprocess.Popen(
            citewise_command("ingest", *self.paths, *self.args),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
            # Its own session: Ctrl-C in the terminal reaches the service only, which then stops the child itself.
            start_new_session=True,
        )
        self.state = "running"
        self._thread = threading.Thread(target=self._forward, name="citewise-ingest-output", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the child if it still runs (SIGINT, so it ends the way an interrupted ingest does, then SIGKILL)."""
        self._stopping = True
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_S)

    def status(self) -> dict[str, object]:
        # No paths or process ids: /readyz shows this to anyone the service answers.
        status: dict[str, object] = {"state": self.state}
        if self.exit_status is not None:
            status["exit_status"] = self.exit_status
        if self.state == "failed" and self.tail:
            status["message"] = self.tail[-1]
        return status

    # ---------- output ----------

    def _forward(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        tty = _isatty(self.out)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        line = ""  # the current line as it would look now (a progress bar rewrites it after each \r)
        at_start = True
        fd = self.process.stdout.fileno()
        while chunk := os.read(fd, 65536):
            text = decoder.decode(chunk)
            if tty:
                # A terminal gets the text as it comes, progress bars included, with the prefix on every line.
                prefixed, at_start = _prefixed(text, at_start)
                self._write(prefixed)
            for piece in _pieces(text):
                if piece == "\n":
                    if line.strip():
                        self.tail.append(line.rstrip())
                        if not tty:  # a log gets finished lines only, not every redraw of a progress bar
                            self._write(PREFIX + line.rstrip() + "\n")
                    line = ""
                elif piece == "\r":
                    line = ""
                else:
                    line += piece
        if line.strip():
            self.tail.append(line.rstrip())
        self.process.wait()
        self._finished(self.process.returncode)

    def _finished(self, code: int) -> None:
        self.exit_status = code
        if self._stopping:
            self.state = "stopped"
            self._write("citewise: stopped the background ingest with the service\n")
            return
        if code in (0, EXIT_SKIPPED):
            self.state = "finished"
            skipped = " (some files were skipped, each named above)" if code == EXIT_SKIPPED else ""
            self._write(f"citewise: background ingest finished{skipped}; the service picks up the full index "
                        "within a second\n")
            return
        self.state = "failed"
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"failed with exit status {code}"
        served = ("the part of the index already published" if self.store.current_token() is not None
                  else f"nothing: there is no index at {self.store.location}, so /readyz answers 503")
        lines = "".join(f"  | {line}\n" for line in self.tail) or "  | (no output)\n"
        self._write(f"citewise: error: the background `{self.command}` {how}; the service goes on serving "
                    f"{served}. Its last lines:\n{lines}")

    def _write(self, text: str) -> None:
        if not text:
            return
        with self._write_lock:
            try:
                self.out.write(text)
                self.out.flush()
            except (OSError, ValueError):  # the terminal went away; the child's state is still tracked
                pass


def _pieces(text: str) -> list[str]:
    """`text` split into runs of characters and single \\r or \\n separators."""
    pieces: list[str] = []
    start = 0
    for i, char in enumerate(text):
        if char in "\r\n":
            if i > start:
                pieces.append(text[start:i])
            pieces.append(char)
            start = i + 1
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _prefixed(text: str, at_start: bool) -> tuple[str, bool]:
    """`text` with PREFIX at the start of each line (and of each redraw after \\r); whether it ends at a line's
    start, for the next call."""
    out: list[str] = []
    for piece in _pieces(text):
        if piece in ("\r", "\n"):
            out.append(piece)
            at_start = True
        else:
            if at_start:
                out.append(PREFIX)
            out.append(piece)
            at_start = False
    return "".join(out), at_start


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
