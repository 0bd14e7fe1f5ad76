"""WASI p2 settings of one component instance: its preopened directories and where its
stdout/stderr go.

A component that imports ``wasi:*`` gets a ``WasiConfig`` on its Store. It starts as the empty
sandbox — no directories, no environment, no argv, no stdin, nothing of the host's stdio —
because anything inherited from the host process (its env holds secrets, its stdio is the
operator's) would be a grant the Component.toml schema has no key for. The only grant is
directories: the security layer derives them from the manifest's filesystem capabilities; this
module turns them into wasmtime's config, once per Store.

The guest's stdout and stderr are not a grant but a diagnostic channel: they go to the logger
``airssys_wasm.guest.<component>`` through a :class:`GuestOutput` (line-buffered, rate-limited,
control bytes escaped), and its last stderr lines are attached to the TrapError when the guest
traps. wasmtime calls the output callback synchronously from the guest's write, so the callback
only buffers and logs: it never blocks on the guest's behalf and never fails the write.

wasmtime opens a preopened directory by its path, following symlinks: a directory swapped for a
symlink at that moment would expose whatever it points to. So each directory is first opened
here with no symlink in any component (``_fast._fsbeneath.open_root``), and wasmtime is handed
``/proc/self/fd/N`` of that descriptor, which names exactly the directory that was opened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import wasmtime

from airssys_wasm._fast import _fsbeneath
from airssys_wasm.errors import ConfigError, PermissionDenied, printable

__all__ = ["NO_WASI", "GuestOutput", "OutputLimits", "Preopen", "WasiSettings"]

#: Prefix of the loggers guest output goes to: ``airssys_wasm.guest.<component name>``.
GUEST_LOGGER = "airssys_wasm.guest"


@dataclass(frozen=True, slots=True)
class OutputLimits:
    """How much guest stdout/stderr reaches the log (both streams share one budget).

    A token bucket: ``burst`` lines at once, then ``lines_per_second``; lines over the budget
    are dropped and counted, and one ``... N lines dropped`` warning is logged when output is
    let through again (or at close). A line longer than ``max_line`` bytes is cut into pieces
    of that size, so a guest that never writes a newline cannot grow the host's buffer.
    ``stderr_tail`` lines of stderr — dropped from the log or not — are kept for the TrapError.
    """

    lines_per_second: float = 50.0
    burst: int = 200
    max_line: int = 4096
    stderr_tail: int = 20

    def __post_init__(self) -> None:
        if not self.lines_per_second > 0 or self.burst < 1 or self.max_line < 1 \
                or self.stderr_tail < 0:
            raise ConfigError(f"{self}: lines_per_second must be > 0, burst and max_line >= 1, "
                              "stderr_tail >= 0")


class GuestOutput:
    """One instance's WASI stdout/stderr: lines to its logger, the stderr tail kept.

    stdout lines are logged at INFO, stderr lines at WARNING, each with ``extra={"component":
    name, "stream": "stdout"|"stderr"}``. Thread-safe: wasmtime may call the writers from the
    thread that polls the guest's call.
    """

    def __init__(self, component: str, limits: OutputLimits | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.component = component
        self.limits = limits or OutputLimits()
        self.logger = logging.getLogger(f"{GUEST_LOGGER}.{component}")
        self._clock = clock
        self._lock = threading.Lock()
        self._partial = {"stdout": b"", "stderr": b""}
        self._tail: deque[str] = deque(maxlen=self.limits.stderr_tail)
        self._tokens = float(self.limits.burst)
        self._refilled = clock()
        self._unreported = 0
        #: Lines not logged because they were over the rate limit (all time).
        self.dropped = 0
        #: Lines logged (all time).
        self.logged = 0

    @property
    def stderr_tail(self) -> tuple[str, ...]:
        """The last stderr lines (a partial last line included), oldest first."""
        with self._lock:
            partial = self._partial["stderr"]
            tail = list(self._tail)
            if partial:
                tail.append(self._text(partial))
            return tuple(tail[-self.limits.stderr_tail:]) if self.limits.stderr_tail else ()

    def stdout(self, data: bytes) -> int:
        """wasmtime's stdout callback: always accepts the whole write."""
        return self._write("stdout", data)

    def stderr(self, data: bytes) -> int:
        """wasmtime's stderr callback: always accepts the whole write."""
        return self._write("stderr", data)

    def flush(self) -> None:
        """Log partial lines and a pending dropped-lines note (the instance is going away)."""
        with self._lock:
            for stream in ("stdout", "stderr"):
                rest, self._partial[stream] = self._partial[stream], b""
                if rest:
                    self._lines(stream, [rest])
            self._report_dropped()

    def _write(self, stream: str, data: bytes) -> int:
        try:
            with self._lock:
                max_line = self.limits.max_line
                lines = (self._partial[stream] + data).split(b"\n")
                rest = lines.pop()
                # An unterminated run is cut into max_line pieces in one pass (slicing the
                # remainder again per piece would copy a long run quadratically).
                cut = len(rest) - len(rest) % max_line
                lines.extend(rest[i:i + max_line] for i in range(0, cut, max_line))
                self._partial[stream] = rest[cut:]
                if lines:
                    self._lines(stream, lines)
        except Exception:  # a logging handler failed: the guest's write must not
            with contextlib.suppress(Exception):
                logging.getLogger(GUEST_LOGGER).exception(
                    "guest output of %r could not be logged", self.component)
        return len(data)

    def _text(self, line: bytes) -> str:
        return printable(line.decode("utf-8", "replace").removesuffix("\r"))

    def _lines(self, stream: str, lines: list[bytes]) -> None:
        """Log what the budget allows of ``lines`` (lock held); keep the stderr tail."""
        if stream == "stderr" and self._tail.maxlen:
            self._tail.extend(self._text(line) for line in lines[-self._tail.maxlen:])
        now = self._clock()
        limits = self.limits
        self._tokens = min(float(limits.burst),
                           self._tokens + (now - self._refilled) * limits.lines_per_second)
        self._refilled = now
        allowed = min(len(lines), int(self._tokens))
        if allowed:
            self._report_dropped()
            self._tokens -= allowed
            level = logging.WARNING if stream == "stderr" else logging.INFO
            extra = {"component": self.component, "stream": stream}
            for line in lines[:allowed]:
                self.logger.log(level, "%s", self._text(line), extra=extra)
            self.logged += allowed
        dropped = len(lines) - allowed
        self.dropped += dropped
        self._unreported += dropped

    def _report_dropped(self) -> None:
        if self._unreported:
            self.logger.warning(
                "... %d lines dropped (guest %r wrote more than %d lines at once or %g lines/s; "
                "its stderr tail is still attached to a trap)", self._unreported, self.component,
                self.limits.burst, self.limits.lines_per_second,
                extra={"component": self.component, "stream": "note"})
            self._unreported = 0


@dataclass(frozen=True, slots=True)
class Preopen:
    """``host_path`` appears to the guest as ``guest_path``; writable only when ``mutable``."""

    host_path: str
    guest_path: str
    mutable: bool = False


@dataclass(frozen=True, slots=True)
class WasiSettings:
    """What a WASI guest may see: these directories, nothing else; how much of its
    stdout/stderr reaches the log."""

    preopens: tuple[Preopen, ...] = ()
    output: OutputLimits = OutputLimits()

    def __post_init__(self) -> None:
        if not isinstance(self.output, OutputLimits):
            raise ConfigError(f"WasiSettings.output must be a runtime.wasi.OutputLimits, not "
                              f"{type(self.output).__name__}")
        for p in self.preopens:
            if not isinstance(p, Preopen):
                raise ConfigError(f"WasiSettings.preopens must hold runtime.wasi.Preopen, not "
                                  f"{type(p).__name__}")
            if not os.path.isabs(p.host_path) or not os.path.isdir(p.host_path):
                raise ConfigError(f"preopen {p.host_path!r} is not an existing absolute directory; "
                                  "create it or remove the filesystem grant that names it")

    @contextmanager
    def config(self, output: GuestOutput | None = None) -> Iterator[wasmtime.WasiConfig]:
        """A fresh ``WasiConfig`` (wasmtime consumes it when set on a Store), its directories
        opened race-free; use it inside the ``with`` block (the descriptors close after it).
        The guest's stdout/stderr go to ``output`` (discarded without one).

        PermissionDenied when a directory cannot be opened without following a symlink (it
        was swapped for one) or is gone."""
        fds: list[int] = []
        try:
            cfg = wasmtime.WasiConfig()
            if output is not None:
                cfg.stdout_custom = output.stdout
                cfg.stderr_custom = output.stderr
            for p in self.preopens:
                try:
                    fd = _fsbeneath.open_root(p.host_path)
                except OSError as exc:
                    raise PermissionDenied(
                        f"WASI preopen {p.host_path!r} cannot be opened without following a "
                        f"symlink ({exc.strerror or exc}); it was replaced or removed — restore "
                        "the real directory or change the filesystem grant") from None
                fds.append(fd)
                cfg.preopen_dir(f"/proc/self/fd/{fd}", p.guest_path, p.mutable)
            yield cfg
        finally:
            for fd in fds:
                os.close(fd)


NO_WASI = WasiSettings()
"""The WASI settings of a component with no filesystem grants: no preopens, no environment,
no inherited stdio (output goes to the guest logger)."""
