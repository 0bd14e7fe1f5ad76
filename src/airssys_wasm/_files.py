"""Files a user named: opened without letting the name stall the process, and checked for
who else could have written them.

``open(path)`` on a FIFO blocks until a writer appears (forever, for a plugin directory with a
planted FIFO: the whole event loop with it), and ``read()`` of a character device such as
``/dev/zero`` never ends. Components, manifests and WIT are regular files; anything else is
refused before a byte is read. The open itself cannot block (``O_NONBLOCK``, which does
nothing to a regular file) and the check is on the opened descriptor, so swapping the path
for a FIFO between a check and the open gains nothing.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

__all__ = ["directory_not_private", "not_private", "open_regular"]

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for binary reading; OSError (``strerror`` says what it is instead)
    when it is not a regular file once opened, and OSError/ValueError as ``open`` raises."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a plain file")
            raise OSError(errno.EINVAL, f"it is {kind}, not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def not_private(st: os.stat_result) -> str | None:
    """Why a file or directory with this stat could hold what another user wrote (another
    owner, a group or other write bit), or None. The compile cache (native code, run as is)
    and the storage database (components' data and quota ownership) trust only their user."""
    if st.st_uid != os.geteuid():
        return f"is owned by uid {st.st_uid}, not by this process's uid {os.geteuid()}"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by group or others (mode {stat.S_IMODE(st.st_mode):#o})"
    return None


def directory_not_private(directory: str | os.PathLike[str]) -> str | None:
    """``not_private`` of a directory, or that it is not one (OSError if it cannot be read)."""
    st = os.stat(directory)
    return "is not a directory" if not stat.S_ISDIR(st.st_mode) else not_private(st)
