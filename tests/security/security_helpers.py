"""Helpers for the end-to-end security tests: write manifests, read the ext probes' replies
(0x00 ++ value, or 0x01 ++ error case index ++ text). A plain module, not conftest: test modules
of several directories import helpers, and ``conftest`` names would collide."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from airssys_wasm.security import MemoryAuditSink

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "wat"


def manifest(name: str, capabilities: str = "", quota: str = "", limits: str = "") -> str:
    return (f'[component]\nname = "{name}"\nversion = "1.0.0"\n'
            + (f"\n[limits]\n{limits}\n" if limits else "")
            + (f"\n{capabilities}\n" if capabilities else "")
            + (f"\n[quota]\n{quota}\n" if quota else ""))


def ok(reply: bytes) -> bytes:
    assert reply[:1] == b"\x00", f"expected ok, got {reply!r}"
    return reply[1:]


def err(reply: bytes) -> tuple[int, str]:
    assert reply[:1] == b"\x01", f"expected an error, got {reply!r}"
    return reply[1], reply[2:].decode()


def denials(audit: MemoryAuditSink, kind: str) -> list:
    return [r for r in audit.records if r.kind == kind and r.decision == "deny"]


def argv(executable: str, *args: str) -> bytes:
    """The ext-proc probe's argv encoding: len u8 ++ executable ++ argc u8 ++ (len u8 ++ arg)*."""
    op = bytes([len(executable)]) + executable.encode() + bytes([len(args)])
    for arg in args:
        op += bytes([len(arg)]) + arg.encode()
    return op


class EchoServer:
    """A TCP echo server on 127.0.0.1 only. It stops by itself after ``limit`` connections or
    ``lifetime`` seconds, and every blocking step polls a stop flag, so it cannot hang a test."""

    def __init__(self, limit: int = 4, lifetime: float = 10.0, *, silent: bool = False) -> None:
        self.silent = silent
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(limit, lifetime), daemon=True)
        self.thread.start()

    def _serve(self, limit: int, lifetime: float) -> None:
        ends = time.monotonic() + lifetime
        with self.sock:
            while self.accepted < limit and not self._stop.is_set() and time.monotonic() < ends:
                try:
                    conn, _ = self.sock.accept()
                    self.accepted += 1
                except TimeoutError:
                    continue
                except OSError:
                    return
                with conn:
                    if self.silent:  # hold the connection open, never answer
                        self._stop.wait(lifetime)
                        continue
                    conn.settimeout(2.0)
                    try:
                        data = conn.recv(4096)
                        conn.sendall(b"echo:" + data)
                    except OSError:
                        pass

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2.0)
