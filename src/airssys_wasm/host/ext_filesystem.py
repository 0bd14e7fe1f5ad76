"""Host side of ``airssys:ext-filesystem/filesystem@1.0.0``: file access per manifest grant.

Every function asks the security provider first, on the event loop (one audited decision per
call), and then acts on ``decision.resolved_path`` — the path the grant was matched against,
``..`` collapsed and every symlink already resolved — never on the guest's string.

**No race between the check and the open.** The blocking step (in the host's I/O pool while
only the calling guest waits, see ``ext_common.blocking``) opens the matching grant's root
directory (``decision.root``) refusing a symlink in any of its components, then opens the
resolved path *beneath* that root fd with the kernel doing the walk and refusing every symlink
(``_fast._fsbeneath``: ``openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)``,
or an ``openat(O_NOFOLLOW)`` walk where ``openat2`` is missing; the backend is logged once).
A directory swapped for a symlink after the check — the root itself or any directory below it
— makes the open fail with ``ELOOP``, which the guest gets as ``permission-denied``; nothing
outside the grant is ever opened. Delete and list work on fds opened the same way
(``unlinkat`` on the parent fd, ``fdopendir`` on the directory fd), stat ``fstat``s an
``O_PATH`` fd.

**Symlinks inside a grant keep working** because the *check* resolves them: a link
``data/alias -> data/sub`` resolves to ``data/sub/...``, which is matched against the grants and
then opened with no symlink in it. The open itself follows no symlink at all (instead of letting
``RESOLVE_BENEATH`` follow links that stay beneath the root) because the root is wider than
some grants (``/app/*.txt`` has root ``/app``): a link appearing after the check could point at
``/app/secret.key``, beneath the root but outside the grant. Following nothing means the object
opened is exactly the checked path made of real directories.

**Only regular files are read or written**: the open uses ``O_NONBLOCK | O_NOCTTY`` (a FIFO
would wait for a writer forever) and ``fstat``; a FIFO, device or socket inside a grant is
refused with its type. After a successful operation ``security.performed`` audits the path
the kernel says it opened (``/proc/self/fd`` of the opened fd, or of the parent fd for delete).
Denials and I/O failures become ``file-error`` values for the guest; nothing raises into the host.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import stat as stat_module
from collections.abc import Callable
from typing import Any

from airssys_wasm._fast import _fsbeneath
from airssys_wasm.host.ext_common import GuestErr, blocking, suspending, wit_result
from airssys_wasm.host.policy import Decision, SecurityProvider, performed_hook
from airssys_wasm.runtime import HostServices

__all__ = ["INTERFACE", "MAX_FILE_BYTES", "functions"]

INTERFACE = "airssys:ext-filesystem/filesystem@1.0.0"
#: Largest file read-file returns: list<u8> crosses the component ABI one value per byte.
MAX_FILE_BYTES = 16 << 20

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NOCTTY = getattr(os, "O_NOCTTY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_PATH = getattr(os, "O_PATH", 0)
_PROC_FD = "/proc/self/fd/"
_log = logging.getLogger(__name__)
_backend_logged = False

#: A step's report of what it did: ``done(path_opened)`` writes the audit "done" line.
Done = Callable[[str], None]


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
        return GuestErr("permission-denied", f"{path!r} has a symlink in its path that the check "
                        "did not see (it changed after the check, or loops); not followed")
    if code == errno.EXDEV:
        return GuestErr("permission-denied", f"{path!r} would leave the directory it was granted "
                        "beneath; not opened")
    if code == errno.EAGAIN:
        return GuestErr("io-error", f"{path!r} kept changing while the kernel resolved it; retry")
    if code in (errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.EINVAL):
        return GuestErr("invalid-path", f"{path!r}: {exc.strerror}")
    return GuestErr("io-error", f"{path!r}: {exc.strerror or exc}")


class _Target:
    """What a blocking step acts on: the checked path split into the grant root and the path
    beneath it, plus the guest's string (for messages) and the audit hook."""

    __slots__ = ("done", "path", "rel", "root")

    def __init__(self, path: str, root: str, rel: str, done: Done) -> None:
        self.path = path
        self.root = root
        self.rel = rel
        self.done = done

    def open(self, flags: int, mode: int = 0o644, rel: str | None = None) -> int:
        """Open the target (or ``rel``) beneath its root (see the module docstring); raises
        OSError."""
        root_fd = _fsbeneath.open_root(self.root)
        try:
            return _fsbeneath.open_beneath(root_fd, self.rel if rel is None else rel, flags, mode)
        finally:
            os.close(root_fd)

    def split(self) -> tuple[str, str]:
        """(parent beneath the root, final name) of the target."""
        parent, _, name = self.rel.rpartition("/")
        return parent or ".", name

    def fallback(self) -> str:
        return self.root.rstrip("/") + "/" + self.rel if self.rel != "." else self.root


def _beneath(resolved: str, root: str | None) -> tuple[str, str] | None:
    """(root, rel) with ``resolved == root/rel``; None when the provider's root is not above
    the resolved path (a provider bug: refused rather than opened somewhere else)."""
    root = root or "/"
    if not root.startswith("/") or not resolved.startswith("/"):
        return None
    if resolved == root:
        return root, "."
    prefix = root.rstrip("/") + "/"
    if not resolved.startswith(prefix):
        return None
    rel = resolved[len(prefix):]
    if any(part in ("", ".", "..") for part in rel.split("/")):
        return None  # resolved paths are normalised; anything else is not opened
    return root, rel


def _opened(fd: int, fallback: str) -> str:
    """The path the kernel has for ``fd`` (what was really opened), else ``fallback``."""
    try:
        return os.readlink(_PROC_FD + str(fd))
    except OSError:
        return fallback


def functions(security: SecurityProvider) -> dict[str, Callable[..., Any]]:
    """The interface's functions, each ``fn(services, *wit_args)`` (see ``define_imports``)."""
    global _backend_logged
    if not _backend_logged:
        _backend_logged = True
        _log.info("ext-filesystem opens paths beneath their grant root with %s%s",
                  _fsbeneath.BACKEND, "" if _fsbeneath.BACKEND == "openat2"
                  else " (openat2 unavailable: Linux >= 5.6 has it)")
    check = security.check
    performed = performed_hook(security)

    def checked(services: HostServices, kind: str, path: object) -> _Target | GuestErr:
        if not isinstance(path, str):
            return GuestErr("invalid-path", "the path must be a string")
        component = services.component.name
        decision = check(component, kind, path)
        if not decision.allowed or decision.resolved_path is None:
            return _denied(kind, path, decision)
        split = _beneath(decision.resolved_path, getattr(decision, "root", None))
        if split is None:
            return GuestErr("permission-denied", f"{kind} {path!r}: the security provider's grant "
                            "root is not above the resolved path; not opened (a provider bug)")
        return _Target(path, split[0], split[1], functools.partial(performed, component, kind, path))

    def read_file(services: HostServices, path: str) -> Any:
        target = checked(services, "filesystem.read", path)
        if type(target) is GuestErr:
            return target
        return blocking(f"read-file {path!r}", _read, target)

    def write_file(services: HostServices, path: str, data: bytes) -> Any:
        target = checked(services, "filesystem.write", path)
        if type(target) is GuestErr:
            return target
        return blocking(f"write-file {path!r}", _write, target, bytes(data))

    def delete_file(services: HostServices, path: str) -> Any:
        target = checked(services, "filesystem.delete", path)
        if type(target) is GuestErr:
            return target
        return blocking(f"delete-file {path!r}", _delete, target)

    def list_dir(services: HostServices, path: str) -> Any:
        target = checked(services, "filesystem.list", path)
        if type(target) is GuestErr:
            return target
        return blocking(f"list-dir {path!r}", _list, target)

    def stat(services: HostServices, path: str) -> Any:
        # Size and mtime are contents-level facts: stat needs filesystem.read.
        target = checked(services, "filesystem.read", path)
        if type(target) is GuestErr:
            return target
        return blocking(f"stat {path!r}", _stat, target)

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


def _not_regular(target: _Target, mode: int) -> GuestErr:
    return _refused(target, GuestErr("permission-denied", f"{target.path!r} is {_file_type(mode)}; "
                                     "only regular files are read or written"))


def _refused(target: _Target, error: GuestErr) -> GuestErr:
    """Audit a refusal by the host's own safeguards after the policy allowed the path (a
    special file, a symlink that appeared after the check): the "done" line says nothing was
    done and why, so an allow line is never left looking like a completed action."""
    target.done(f"refused {target.fallback()}: {error.message}")
    return error


def _failed(target: _Target, exc: OSError) -> GuestErr:
    error = _os_error(target.path, exc)
    if exc.errno in (errno.ELOOP, errno.EXDEV):
        return _refused(target, error)
    return error


def _open_regular(target: _Target, flags: int) -> int | GuestErr:
    """Open without blocking (a FIFO would wait for a writer forever) and keep only regular
    files: a device, FIFO or socket inside a grant is refused with its type."""
    try:
        fd = target.open(flags | os.O_NONBLOCK | _NOCTTY)
    except OSError as exc:
        if exc.errno not in (errno.ENXIO, errno.ENODEV, errno.EOPNOTSUPP):
            raise
        # A FIFO without a reader (O_WRONLY | O_NONBLOCK) or a socket: name what it is, from an
        # O_PATH fd opened the same race-free way (it opens nothing for I/O).
        probe = target.open(_O_PATH | _NOFOLLOW)
        try:
            mode = os.fstat(probe).st_mode
        finally:
            os.close(probe)
        if stat_module.S_ISREG(mode):
            raise
        return _not_regular(target, mode)
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat_module.S_ISREG(mode):
        os.close(fd)
        if stat_module.S_ISDIR(mode):
            return GuestErr("invalid-path", f"{target.path!r}: Is a directory")
        return _not_regular(target, mode)
    os.set_blocking(fd, True)
    return fd


def _on_fd(target: _Target, open_fd: Callable[[], int | GuestErr], use: Callable[[int], Any],
           where: Callable[[int], str] | None = None) -> Any:
    """``use(fd)`` on the fd ``open_fd()`` opened beneath the grant root (or the GuestErr it
    refused with), then the audit's done line naming what was really opened (``where(fd)``, by
    default the fd's own path). An OSError becomes the guest's error; so does a GuestErr that
    ``use`` returns, without a done line (nothing was handed over)."""
    try:
        fd = open_fd()
        if isinstance(fd, GuestErr):
            return fd
        try:
            out = use(fd)
            opened = where(fd) if where is not None else _opened(fd, target.fallback())
        finally:
            os.close(fd)
    except OSError as exc:
        return _failed(target, exc)
    if isinstance(out, GuestErr):
        return out
    target.done(opened)
    return out


def _read(target: _Target) -> bytes | GuestErr:
    def read_all(fd: int) -> bytes | GuestErr:
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_FILE_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_FILE_BYTES:
            return GuestErr("io-error", f"{target.path!r} is larger than {MAX_FILE_BYTES} bytes; "
                            "read-file returns whole small files only")
        return b"".join(chunks)

    return _on_fd(target, lambda: _open_regular(target, os.O_RDONLY), read_all)


def _write(target: _Target, data: bytes) -> GuestErr | None:
    def write_all(fd: int) -> None:
        os.ftruncate(fd, 0)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    # O_TRUNC only once it is known to be a regular file (truncating a device is an action).
    return _on_fd(target, lambda: _open_regular(target, os.O_WRONLY | os.O_CREAT), write_all)


def _delete(target: _Target) -> GuestErr | None:
    parent, name = target.split()
    if name in ("", "."):
        return GuestErr("invalid-path", f"{target.path!r} is a grant root; delete-file removes files")
    return _on_fd(target, lambda: target.open(_O_PATH | _DIRECTORY, rel=parent),
                  lambda dir_fd: os.unlink(name, dir_fd=dir_fd),  # never follows a final symlink
                  where=lambda dir_fd: _opened(dir_fd, target.root).rstrip("/") + "/" + name)


def _list(target: _Target) -> list[str] | GuestErr:
    return _on_fd(target, lambda: target.open(os.O_RDONLY | _DIRECTORY),
                  lambda fd: sorted(os.listdir(fd)))


def _stat(target: _Target) -> dict[str, Any] | GuestErr:
    # O_PATH | O_NOFOLLOW: a final symlink (swapped in after the check) is stat'ed itself.
    st = _on_fd(target, lambda: target.open(_O_PATH | _NOFOLLOW), os.fstat)
    if isinstance(st, GuestErr):
        return st
    return {"size": st.st_size, "is-dir": stat_module.S_ISDIR(st.st_mode),
            "modified-ms": st.st_mtime_ns // 1_000_000}
