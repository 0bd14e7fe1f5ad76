"""Audit log: one JSON line per permission decision, to any number of sinks.

Operators need to answer "what did plugin X try to touch, and what did we let it do?" after
the fact, so every grant *and* denial is written, with the reason. Lines are self-contained
JSON objects (``time, component, kind, target, decision, reason``, plus ``resolved`` — the
path after symlinks and ``..`` — for filesystem and process decisions) so ``jq``/log shippers read
them without a schema. Guest-controlled strings are JSON-escaped (a newline in a target can
never forge a second line) and long targets are truncated.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import IO, NamedTuple, Protocol

import orjson

__all__ = [
    "MAX_TARGET_CHARS",
    "AuditLog",
    "AuditRecord",
    "AuditSink",
    "FileAuditSink",
    "LoggingAuditSink",
    "MemoryAuditSink",
    "StreamAuditSink",
]

MAX_TARGET_CHARS = 1024
_BODY_CACHE_LIMIT = 4096  # distinct decisions whose JSON is kept; cleared when full
_log = logging.getLogger(__name__)


class AuditRecord(NamedTuple):
    """One decision. ``time`` is RFC 3339 UTC; ``decision`` is ``"allow"`` or ``"deny"``.

    A NamedTuple rather than a frozen dataclass: one is built per permission check, and tuple
    construction is several times cheaper.
    """

    time: str
    component: str
    kind: str
    target: str
    decision: str
    reason: str
    resolved: str | None = None  # filesystem/process: where the target really points
    #: For a ``"done"`` line: what the host actually did (the path it opened beneath the grant
    #: root, the address it connected, the executable it ran), not what was asked.
    performed: str | None = None

    def to_json(self) -> str:
        """The record as one JSON object on one line (what file and stream sinks write), so audit
        trails can be processed with ordinary JSON-lines tools."""
        return f'{{"time":{json.dumps(self.time)},{_body_json(self)[1:]}'


def _body_json(rec: AuditRecord) -> str:
    """The JSON object of ``rec`` without its time: what repeats from one decision to the next."""
    data = {
        "component": rec.component,
        "kind": rec.kind,
        "target": rec.target,
        "decision": rec.decision,
        "reason": rec.reason,
    }
    if rec.resolved is not None:
        data["resolved"] = rec.resolved
    if rec.performed is not None:
        data["performed"] = rec.performed
    try:
        return orjson.dumps(data).decode("utf-8")
    except TypeError:
        # orjson refuses lone surrogates (e.g. from os.fsdecode); stdlib escapes them.
        return json.dumps(data, ensure_ascii=True, separators=(",", ":"))


class AuditSink(Protocol):
    """Where lines go. A sink may also define ``enabled() -> bool``: when every sink of a log
    says False (e.g. a logger with no handler at its level), decisions are not serialised at all,
    since nothing would keep them."""

    def write(self, record: AuditRecord, line: str) -> None:
        """Keep one decision: ``record`` is the structured form, ``line`` its JSON text.

        Called under the audit log's lock, so a sink sees whole lines in order; an exception counts
        as a failure of the log (the policy may fail closed)."""


class MemoryAuditSink:
    """Keeps records and lines in memory: for tests and for embedding apps that inspect them."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self.lines: list[str] = []

    def write(self, record: AuditRecord, line: str) -> None:
        """Append the record and its line to ``records`` / ``lines``."""
        self.records.append(record)
        self.lines.append(line)


class StreamAuditSink:
    """Writes lines to a text stream (``sys.stderr``, an open file, a StringIO)."""

    def __init__(self, stream: IO[str], *, flush: bool = True) -> None:
        self._stream = stream
        self._flush = flush

    def write(self, record: AuditRecord, line: str) -> None:
        """Write the line and a newline to the stream (flushed when the sink was made with
        ``flush=True``)."""
        self._stream.write(line + "\n")
        if self._flush:
            self._stream.flush()


class FileAuditSink(StreamAuditSink):
    """Appends to a file (opened once, line-buffered, UTF-8); ``close()`` when done."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file: io.TextIOWrapper = open(path, "a", encoding="utf-8", buffering=1)
        super().__init__(self._file, flush=False)

    def close(self) -> None:
        """Close the file; the audit trail is complete once the host is closed and this is called.
        """
        self._file.close()


class LoggingAuditSink:
    """Hands lines to a ``logging`` logger, with the record attached as ``extra={'audit': ...}``."""

    def __init__(
        self, logger: logging.Logger | str = "airssys_wasm.audit", level: int = logging.INFO
    ) -> None:
        self._logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self._level = level

    def enabled(self) -> bool:
        """True if the logger would emit at the sink's level: when no sink wants them, decisions
        are not serialised at all, which keeps an unobserved audit trail free."""
        return self._logger.isEnabledFor(self._level)

    @property
    def enabled_probe(self) -> Callable[[], bool]:
        """``enabled`` as one cheap callable (the audit log asks it once per decision)."""
        return functools.partial(self._logger.isEnabledFor, self._level)

    def write(self, record: AuditRecord, line: str) -> None:
        """Log the line, with the record attached as ``extra={"audit": record}`` for structured
        handlers."""
        self._logger.log(self._level, line, extra={"audit": record})


def _clip(text: str) -> str:
    if len(text) <= MAX_TARGET_CHARS:
        return text
    return text[:MAX_TARGET_CHARS] + f"...(+{len(text) - MAX_TARGET_CHARS} chars)"


def _rfc3339(ts: float, cache: list[tuple[int, str]]) -> str:
    """RFC 3339 UTC with microseconds. The ``YYYY-MM-DDTHH:MM:SS`` part is cached for the
    current second (decisions come in bursts); the one-tuple swap is safe across threads.
    Clocks here are positive, so ``int`` truncation is the floor."""
    sec = int(ts)
    cached = cache[0]
    if cached[0] != sec:
        cached = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
        cache[0] = cached
    return "%s.%06dZ" % (cached[1], (ts - sec) * 1e6)


class AuditLog:
    """Serialises decisions to JSON once and fans them out to sinks, under one lock.

    The lock makes lines from concurrent threads whole and ordered per sink. A failing sink is
    counted in ``failures`` and logged; ``record`` then returns False so the caller (the
    permission policy) can fail closed.

    ``keeps_lines`` is one zero-argument callable that says whether any sink would keep a line
    right now (False: ``record`` would write nothing and return True), or None when that takes
    more than one question (several sinks, or a sink without a probe): then call ``record``.
    The per-message decision asks it first, so an unobserved audit trail costs one call.
    """

    def __init__(self, sinks: Iterable[AuditSink] = (), *, clock: Callable[[], float] = time.time) -> None:
        self._sinks = list(sinks)
        self._probes = [self._probe(sink) for sink in self._sinks]
        self.keeps_lines: Callable[[], bool] | None = self._keeps(self._probes)
        self._clock = clock
        self._lock = threading.Lock()
        self._second: list[tuple[int, str]] = [(-1, "")]
        self._bodies: dict[tuple[str | None, ...], str] = {}
        self.failures = 0

    @staticmethod
    def _probe(sink: AuditSink) -> Callable[[], bool] | None:
        probe = getattr(sink, "enabled_probe", None) or getattr(sink, "enabled", None)
        return probe if callable(probe) else None

    @staticmethod
    def _keeps(probes: list[Callable[[], bool] | None]) -> Callable[[], bool] | None:
        # No sink: nothing keeps a line (``bool()`` is False, one C call). One sink that can
        # say: its probe. Anything else: record() asks each sink itself.
        if not probes:
            return bool
        if len(probes) == 1:
            return probes[0]
        return None

    def add_sink(self, sink: AuditSink) -> None:
        """Send every later decision to ``sink`` as well (e.g. a file added while the host runs).
        """
        with self._lock:
            self._sinks.append(sink)
            self._probes.append(self._probe(sink))
            self.keeps_lines = self._keeps(self._probes)

    def record(
        self,
        component: str,
        kind: str,
        target: object,
        allowed: bool,
        reason: str,
        resolved: str | None = None,
        *,
        performed: str | None = None,
    ) -> bool:
        """Write one decision to every sink; False if any sink failed.

        With ``performed`` the line is not a decision but the record of an action the host
        carried out after an allow: decision ``"done"``, ``performed`` what was really done.
        """
        # No sink would keep a line (e.g. a logger not enabled at INFO): skip building it. Asked
        # per decision, since logging levels can change at run time.
        for probe in self._probes:
            if probe is None or probe():
                break
        else:
            if self._probes:
                return True
        if type(target) is not str and isinstance(target, os.PathLike):
            target = os.fspath(target)
        rec = AuditRecord(
            _rfc3339(self._clock(), self._second),
            str(component),
            str(kind),
            _clip(target if isinstance(target, str) else repr(target)),
            "done" if performed is not None else "allow" if allowed else "deny",
            reason,
            None if resolved is None else _clip(resolved),
            None if performed is None else _clip(performed),
        )
        # Components repeat the same decisions (a stage messaging its next stage): everything
        # but the time is serialised once per distinct decision. The time is plain ASCII.
        body = self._bodies.get(rec[1:])
        if body is None:
            if len(self._bodies) >= _BODY_CACHE_LIMIT:
                self._bodies.clear()
            body = self._bodies[rec[1:]] = _body_json(rec)
        line = f'{{"time":"{rec.time}",{body[1:]}'
        ok = True
        with self._lock:
            for sink in self._sinks:
                try:
                    sink.write(rec, line)
                except Exception as exc:
                    self.failures += 1
                    ok = False
                    _log.error("audit sink %r failed: %s", sink, exc)
        return ok
