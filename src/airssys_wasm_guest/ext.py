"""Typed wrappers over the extension interfaces (storage, filesystem, network, process).

A guest can call only what its manifest grants, and its world must import the interface:
``airssys-wasm build`` adds the interface of every capability section in the Component.toml
next to the guest (``[capabilities] storage...`` -> ``airssys:ext-storage``). Each call raises
``HostError`` (``reason`` = the WIT error case, e.g. ``permission-denied``) when refused.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from airssys_wasm_guest.host import checked

__all__ = ["fs_list", "fs_read", "fs_write", "run", "storage_delete", "storage_get", "storage_keys",
           "storage_set", "tcp_close", "tcp_connect", "tcp_receive", "tcp_send"]


@functools.cache  # once per interface: every call below goes through it
def _ext(name: str) -> Any:
    try:
        return importlib.import_module(f"wit_world.imports.{name}")
    except ImportError:
        raise RuntimeError(f"this guest's world does not import airssys:ext-{name}; grant the "
                           f"capability in Component.toml and rebuild with `airssys-wasm build`") from None


def storage_get(namespace: str, key: str) -> bytes | None:
    """The value under ``key`` in ``namespace``, or None."""
    value = checked(_ext("storage").get, namespace, key)
    return None if value is None else bytes(value)


def storage_set(namespace: str, key: str, value: bytes) -> None:
    """Store ``value`` under ``key``, replacing what was there."""
    checked(_ext("storage").set, namespace, key, value)


def storage_delete(namespace: str, key: str) -> bool:
    """Remove ``key``; True when it existed."""
    return bool(checked(_ext("storage").delete, namespace, key))


def storage_keys(namespace: str) -> list[str]:
    """Every key of ``namespace``, sorted."""
    return list(checked(_ext("storage").list_keys, namespace))


def fs_read(path: str) -> bytes:
    """The bytes of the file at ``path`` (a granted filesystem.read path)."""
    return bytes(checked(_ext("filesystem").read_file, path))


def fs_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` (a granted filesystem.write path)."""
    checked(_ext("filesystem").write_file, path, data)


def fs_list(path: str) -> list[str]:
    """The entries of the directory ``path``."""
    return list(checked(_ext("filesystem").list_dir, path))


def tcp_connect(address: str, timeout_ms: int = 5000) -> int:
    """Connect to ``host:port`` (a granted network.connect pattern); the connection handle."""
    return int(checked(_ext("network").connect, address, timeout_ms))


def tcp_send(conn: int, data: bytes) -> int:
    """Send ``data``; how many bytes went out."""
    return int(checked(_ext("network").send, conn, data))


def tcp_receive(conn: int, max_bytes: int = 65536, timeout_ms: int = 5000) -> bytes:
    """Up to ``max_bytes`` received within ``timeout_ms`` (empty at end of stream)."""
    return bytes(checked(_ext("network").receive, conn, max_bytes, timeout_ms))


def tcp_close(conn: int) -> None:
    """Close a connection."""
    _ext("network").close(conn)


def run(executable: str, args: list[str], stdin: bytes = b"", timeout_ms: int = 5000) -> tuple[int, bytes, bytes]:
    """Run a granted executable to completion: ``(exit_code, stdout, stderr)``."""
    out = checked(_ext("process").run, executable, args, stdin, timeout_ms)
    return int(out.exit_code), bytes(out.stdout), bytes(out.stderr)
