"""Host side of ``airssys:ext-filesystem/filesystem@1.0.0``: file access per manifest grant.

Every function asks the security provider first (one audited decision per call) and then acts
on ``decision.resolved_path`` — the path the grant was matched against, with ``..`` collapsed
and symlinks already resolved — never on the guest's string. The final open uses
``O_NOFOLLOW`` so a symlink swapped in after the check is refused instead of followed, and
``O_NONBLOCK`` + ``fstat`` so only regular files are read or written (a FIFO, device or socket
inside a grant is refused with its type instead of blocking). The I/O runs in the host's I/O
pool while only the calling guest waits (see ``ext_common.blocking``).
Denials and I/O failures become ``file-error`` values for the guest; nothing raises into the host.
"""

from __future__ import annotations

import errno
import os
import stat as stat_module
from collections.abc import Callable
from typing import Any

from airssys_wasm.host.ext_common import GuestErr, blocking, suspending, wit_result
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

    def read_file(services: HostServices, path: str) -> Any:
        resolved, error = checked(services, "filesystem.read", path)
        if resolved is None:
            return error
        return blocking(f"read-file {path!r}", _read, path, resolved)

    def write_file(services: HostServices, path: str, data: bytes) -> Any:
        resolved, error = checked(services, "filesystem.write", path)
        if resolved is None:
            return error
        return blocking(f"write-file {path!r}", _write, path, resolved, bytes(data))

    def delete_file(services: HostServices, path: str) -> Any:
        resolved, error = checked(services, "filesystem.delete", path)
        if resolved is None:
            return error
        return blocking(f"delete-file {path!r}", _delete, path, resolved)

    def list_dir(services: HostServices, path: str) -> Any:
        resolved, error = checked(services, "filesystem.list", path)
        if resolved is None:
            return error
        return blocking(f"list-dir {path!r}", _list, path, resolved)

    def stat(services: HostServices, path: str) -> Any:
        # Size and mtime are contents-level facts: stat needs filesystem.read.
        resolved, error = checked(services, "filesystem.read", path)
        if resolved is None:
            return error
        return blocking(f"stat {path!r}", _stat, path, resolved)

    return {name: suspending(wit_result(fn)) for name, fn in (
        ("read-file", read_file), ("write-file", write_file), ("delete-file", delete_file),
        ("list-dir", list_dir), ("stat", stat))}


# -- the I/O steps: in the host's I/O pool while the guest is suspended (see ext_common) ------

def _file_type(mode: int) -> str:
    for test, name in ((stat_module.S_ISDIR, "a directory"), (stat_module.S_ISFIFO, "a FIFO"),
                       (stat_module.S_ISSOCK, "a socket"), (stat_module.S_ISCHR, "a character device"),
                       (stat_module.S_ISBLK, "a block device"), (stat_module.S_ISLNK, "a symlink")):
        if test(mode):
            return name
    return "not a regular file"


def _open_regular(path: str, resolved: str, flags: int) -> int | GuestErr:
    """Open without blocking (a FIFO would wait for a writer forever) and keep only regular
    files: a device, FIFO or socket inside a grant is refused with its type."""
    try:
        fd = os.open(resolved, flags | os.O_NONBLOCK | _NOFOLLOW | _CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno not in (errno.ENXIO, errno.ENODEV, errno.EOPNOTSUPP):
            raise
        # A FIFO without a reader (O_WRONLY | O_NONBLOCK) or a socket: name what it is.
        mode = os.stat(resolved, follow_symlinks=False).st_mode
        if stat_module.S_ISREG(mode):
            raise
        return GuestErr("permission-denied", f"{path!r} is {_file_type(mode)}; only regular files "
                        "are read or written")
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat_module.S_ISREG(mode):
        os.close(fd)
        if stat_module.S_ISDIR(mode):
            return GuestErr("invalid-path", f"{path!r}: Is a directory")
        return GuestErr("permission-denied", f"{path!r} is {_file_type(mode)}; only regular files "
                        "are read or written")
    os.set_blocking(fd, True)
    return fd


def _read(path: str, resolved: str) -> bytes | GuestErr:
    try:
        fd = _open_regular(path, resolved, os.O_RDONLY)
        if isinstance(fd, GuestErr):
            return fd
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


def _write(path: str, resolved: str, data: bytes) -> GuestErr | None:
    try:
        # O_TRUNC only once it is known to be a regular file (truncating a device is an action).
        fd = _open_regular(path, resolved, os.O_WRONLY | os.O_CREAT)
        if isinstance(fd, GuestErr):
            return fd
        try:
            os.ftruncate(fd, 0)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    except OSError as exc:
        return _os_error(path, exc)
    return None


def _delete(path: str, resolved: str) -> GuestErr | None:
    try:
        os.unlink(resolved)  # unlink never follows the final symlink
    except OSError as exc:
        return _os_error(path, exc)
    return None


def _list(path: str, resolved: str) -> list[str] | GuestErr:
    try:
        fd = os.open(resolved, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
        try:
            return sorted(os.listdir(fd))
        finally:
            os.close(fd)
    except OSError as exc:
        return _os_error(path, exc)


def _stat(path: str, resolved: str) -> dict[str, Any] | GuestErr:
    try:
        st = os.stat(resolved, follow_symlinks=False)
    except OSError as exc:
        return _os_error(path, exc)
    return {"size": st.st_size, "is-dir": stat_module.S_ISDIR(st.st_mode),
            "modified-ms": st.st_mtime_ns // 1_000_000}
