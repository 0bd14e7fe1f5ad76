"""Host side of ``airssys:ext-filesystem/filesystem@1.0.0``: file access per manifest grant.

Every function asks the security provider first (one audited decision per call) and then acts
on ``decision.resolved_path`` — the path the grant was matched against, with ``..`` collapsed
and symlinks already resolved — never on the guest's string. The final open uses
``O_NOFOLLOW`` so a symlink swapped in after the check is refused instead of followed.
Denials and I/O failures become ``file-error`` values for the guest; nothing raises into the host.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any

from airssys_wasm.host.ext_common import GuestErr, wit_result
from airssys_wasm.host.policy import Decision, SecurityProvider
from airssys_wasm.runtime import HostServices

__all__ = ["INTERFACE", "MAX_FILE_BYTES", "functions"]

INTERFACE = "airssys:ext-filesystem/filesystem@1.0.0"
#: Largest file read-file returns: list<u8> crosses the component ABI one value per byte.
MAX_FILE_BYTES = 16 << 20

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def _denied(kind: str, path: str, decision: Decision) -> GuestErr:
    return GuestErr("permission-denied", f"{kind} {path!r} denied: {decision.reason}; grant it in "
                f"the component's Component.toml [capabilities] {kind}")


def _os_error(path: str, exc: OSError) -> GuestErr:
    code = exc.errno
    if code == errno.ENOENT:
        return GuestErr("not-found", f"{path!r} does not exist")
    if code == errno.EEXIST:
        return GuestErr("already-exists", f"{path!r} already exists")
    if code in (errno.EACCES, errno.EPERM):
        return GuestErr("permission-denied", f"the host's OS refused {path!r}: {exc.strerror}")
    if code == errno.ELOOP:
        return GuestErr("permission-denied", f"{path!r} became a symlink after the check; not followed")
    if code in (errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.EINVAL):
        return GuestErr("invalid-path", f"{path!r}: {exc.strerror}")
    return GuestErr("io-error", f"{path!r}: {exc.strerror or exc}")


def functions(security: SecurityProvider) -> dict[str, Callable[..., Any]]:
    """The interface's functions, each ``fn(services, *wit_args)`` (see ``define_imports``)."""
    check = security.check

    def checked(services: HostServices, kind: str, path: object) -> tuple[str | None, Any]:
        if not isinstance(path, str):
            return None, GuestErr("invalid-path", "the path must be a string")
        decision = check(services.component.name, kind, path)
        if not decision.allowed or decision.resolved_path is None:
            return None, _denied(kind, path, decision)
        return decision.resolved_path, None

    def read_file(services: HostServices, path: str) -> bytes | GuestErr:
        resolved, error = checked(services, "filesystem.read", path)
        if resolved is None:
            return error
        try:
            fd = os.open(resolved, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
            try:
                chunks, size = [], 0
                while size <= MAX_FILE_BYTES:
                    chunk = os.read(fd, min(1 << 20, MAX_FILE_BYTES + 1 - size))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
            finally:
                os.close(fd)
        except OSError as exc:
            return _os_error(path, exc)
        data = b"".join(chunks)
        if len(data) > MAX_FILE_BYTES:
            return GuestErr("io-error", f"{path!r} is larger than {MAX_FILE_BYTES} bytes; read-file "
                        "returns whole small files only")
        return data

    def write_file(services: HostServices, path: str, data: bytes) -> GuestErr | None:
        resolved, error = checked(services, "filesystem.write", path)
        if resolved is None:
            return error
        try:
            fd = os.open(resolved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW | _CLOEXEC,
                         0o644)
            try:
                view = memoryview(bytes(data))
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        except OSError as exc:
            return _os_error(path, exc)
        return None

    def delete_file(services: HostServices, path: str) -> GuestErr | None:
        resolved, error = checked(services, "filesystem.delete", path)
        if resolved is None:
            return error
        try:
            os.unlink(resolved)  # unlink never follows the final symlink
        except OSError as exc:
            return _os_error(path, exc)
        return None

    def list_dir(services: HostServices, path: str) -> list[str] | GuestErr:
        resolved, error = checked(services, "filesystem.list", path)
        if resolved is None:
            return error
        try:
            fd = os.open(resolved, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
            try:
                return sorted(os.listdir(fd))
            finally:
                os.close(fd)
        except OSError as exc:
            return _os_error(path, exc)

    def stat(services: HostServices, path: str) -> dict[str, Any] | GuestErr:
        # Size and mtime are contents-level facts: stat needs filesystem.read.
        resolved, error = checked(services, "filesystem.read", path)
        if resolved is None:
            return error
        try:
            st = os.stat(resolved, follow_symlinks=False)
        except OSError as exc:
            return _os_error(path, exc)
        return {"size": st.st_size,
                "is-dir": os.path.isdir(resolved) and not os.path.islink(resolved),
                "modified-ms": st.st_mtime_ns // 1_000_000}

    return {"read-file": wit_result(read_file), "write-file": wit_result(write_file),
            "delete-file": wit_result(delete_file), "list-dir": wit_result(list_dir),
            "stat": wit_result(stat)}
