# cython: language_level=3, boundscheck=False, wraparound=False, embedsignature=True
"""Open paths *beneath* a directory fd without following any symlink, with the kernel's help.

Why: checking a path in Python and then opening the checked string races with anyone who can
rename things inside the grant. ``O_NOFOLLOW`` guards only the last component, so a directory
swapped for a symlink (``renameat2(RENAME_EXCHANGE)``) between check and open redirected the
open outside the grant. Here the kernel walks the path itself and refuses every symlink on the
way, so what is opened is exactly ``<root>/<rel>`` made of real directories.

Two backends, chosen once at import (``BACKEND``):

- ``"openat2"`` (Linux >= 5.6): one ``openat2(root_fd, rel, how)`` with ``RESOLVE_BENEATH |
  RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS``. Called through ``syscall(SYS_openat2, ...)``
  because glibc has no wrapper before 2.39. ``EAGAIN`` (a concurrent rename seen by the
  kernel's resolution) is retried a bounded number of times.
- ``"openat-walk"`` (``openat2`` answers ``ENOSYS``, or a seccomp filter answers ``EPERM``):
  one ``openat(dir_fd, component, O_PATH | O_DIRECTORY | O_NOFOLLOW)`` per directory component,
  each checked with ``fstat`` to be a directory, then the last component with ``O_NOFOLLOW``.
  ``..`` components are refused (``EXDEV``, as ``RESOLVE_BENEATH`` would).

Both refuse a symlink anywhere with ``ELOOP`` (or, for an ``O_PATH | O_NOFOLLOW`` open of a
final symlink, return an fd of the link itself that the caller's ``fstat`` sees as a link).
The syscalls run with the GIL released. Errors are ``OSError`` with the errno; no policy here.
"""

import os

from libc.errno cimport errno

cdef extern from *:
    """
    #include <errno.h>
    #include <fcntl.h>
    #include <stdint.h>
    #include <string.h>
    #include <sys/stat.h>
    #include <sys/syscall.h>
    #include <unistd.h>

    #ifndef SYS_openat2
    #define SYS_openat2 437  /* the same number on every Linux architecture */
    #endif
    #ifndef O_PATH
    #define O_PATH 010000000
    #endif
    #define AIRSSYS_RESOLVE_NO_MAGICLINKS 0x02
    #define AIRSSYS_RESOLVE_NO_SYMLINKS 0x04
    #define AIRSSYS_RESOLVE_BENEATH 0x08
    #define AIRSSYS_PATH_MAX 4096
    #define AIRSSYS_EAGAIN_RETRIES 16

    struct airssys_open_how { uint64_t flags; uint64_t mode; uint64_t resolve; };

    static long airssys_openat2(int dirfd, const char *path, int flags, unsigned mode,
                                uint64_t resolve) {
        struct airssys_open_how how;
        long fd;
        int tries = 0;
        memset(&how, 0, sizeof how);
        how.flags = (uint64_t)(unsigned)flags;
        /* openat2 refuses a mode without O_CREAT/O_TMPFILE (EINVAL). */
        how.mode = (flags & O_CREAT) ? mode : 0;
        how.resolve = resolve;
        for (;;) {
            fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
            if (fd >= 0) return fd;
            if (errno == EINTR) continue;
            if (errno == EAGAIN && ++tries < AIRSSYS_EAGAIN_RETRIES) continue;
            return -1;
        }
    }

    /* Is openat2 usable here? 1 yes, 0 no (ENOSYS; EPERM from a seccomp filter). */
    static int airssys_probe_openat2(void) {
        long fd = airssys_openat2(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                                  AIRSSYS_RESOLVE_NO_SYMLINKS);
        if (fd >= 0) { close((int)fd); return 1; }
        return 0;
    }

    static int airssys_openat_retry(int dirfd, const char *name, int flags, unsigned mode) {
        int fd;
        do { fd = openat(dirfd, name, flags, mode); } while (fd < 0 && errno == EINTR);
        return fd;
    }

    /* Open the directory `name` beneath `dirfd` as O_PATH, never following it: O_PATH|O_NOFOLLOW
       opens a symlink as itself, so the fstat below tells a link (ELOOP) from a non-directory
       (ENOTDIR) about the very object opened, not about what is there a moment later. */
    static int airssys_open_dir_nofollow(int dirfd, const char *name) {
        struct stat st;
        int fd = airssys_openat_retry(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0), saved;
        if (fd < 0) return -1;
        if (fstat(fd, &st) != 0) { saved = errno; close(fd); errno = saved; return -1; }
        if (!S_ISDIR(st.st_mode)) {
            close(fd);
            errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
            return -1;
        }
        return fd;
    }

    /* Component-by-component walk: every directory opened with airssys_open_dir_nofollow, the
       last component with O_NOFOLLOW (a directory wanted with O_DIRECTORY is opened like the
       others and then reopened through "." with the caller's flags). `rel` < PATH_MAX. */
    static int airssys_walk(int rootfd, const char *rel, int flags, unsigned mode) {
        char buf[AIRSSYS_PATH_MAX];
        char *comp, *slash;
        int cur = rootfd, next, dir, saved;
        size_t n = strlen(rel);
        if (n >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
        memcpy(buf, rel, n + 1);
        comp = buf;
        for (;;) {
            while (*comp == '/') comp++;             /* "a//b": empty components */
            slash = strchr(comp, '/');
            if (slash != NULL) {
                char *rest = slash;
                while (*rest == '/') rest++;
                if (*rest == '\0') { *slash = '\0'; slash = NULL; }  /* trailing '/' */
            }
            if (slash == NULL) break;
            *slash = '\0';
            if (strcmp(comp, "..") == 0) { saved = EXDEV; goto fail; }
            if (comp[0] == '\0' || strcmp(comp, ".") == 0) { comp = slash + 1; continue; }
            next = airssys_open_dir_nofollow(cur, comp);
            if (next < 0) { saved = errno; goto fail; }
            if (cur != rootfd) close(cur);
            cur = next;
            comp = slash + 1;
        }
        if (strcmp(comp, "..") == 0) { saved = EXDEV; goto fail; }
        if (comp[0] == '\0') comp = ".";
        if ((flags & O_DIRECTORY) && strcmp(comp, ".") != 0) {
            dir = airssys_open_dir_nofollow(cur, comp);
            if (dir < 0) { saved = errno; goto fail; }
            if (flags & O_PATH) {
                next = dir;
            } else {
                next = airssys_openat_retry(dir, ".", flags | O_CLOEXEC, mode);
                saved = errno;
                close(dir);
                if (next < 0) goto fail;
            }
        } else {
            next = airssys_openat_retry(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
            if (next < 0) { saved = errno; goto fail; }
        }
        if (cur != rootfd) close(cur);
        return next;
    fail:
        if (cur != rootfd) close(cur);
        errno = saved;
        return -1;
    }

    static int airssys_open_beneath(int use_openat2, int rootfd, const char *rel, int flags,
                                    unsigned mode) {
        if (use_openat2)
            return (int)airssys_openat2(rootfd, rel, flags | O_CLOEXEC, mode,
                                        AIRSSYS_RESOLVE_BENEATH | AIRSSYS_RESOLVE_NO_SYMLINKS
                                        | AIRSSYS_RESOLVE_NO_MAGICLINKS);
        return airssys_walk(rootfd, rel, flags, mode);
    }

    /* An absolute directory with no symlink in any component, opened O_PATH. */
    static int airssys_open_root(int use_openat2, const char *path) {
        int slash, fd, saved;
        if (path[0] != '/') { errno = EINVAL; return -1; }
        if (use_openat2)
            return (int)airssys_openat2(AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
                                        AIRSSYS_RESOLVE_NO_SYMLINKS | AIRSSYS_RESOLVE_NO_MAGICLINKS);
        slash = airssys_openat_retry(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        if (slash < 0) return -1;
        fd = airssys_walk(slash, path[1] ? path + 1 : ".", O_PATH | O_DIRECTORY, 0);
        saved = errno;
        close(slash);
        errno = saved;
        return fd;
    }
    """
    int airssys_probe_openat2() nogil
    int airssys_open_beneath(int use_openat2, int rootfd, const char *rel, int flags,
                             unsigned mode) nogil
    int airssys_open_root(int use_openat2, const char *path) nogil
    int AIRSSYS_PATH_MAX

cdef bint _have_openat2 = airssys_probe_openat2()
cdef bint _use_openat2 = _have_openat2

#: Which backend runs: ``"openat2"`` or ``"openat-walk"`` (see the module docstring).
BACKEND = "openat2" if _use_openat2 else "openat-walk"
#: Whether the kernel offers ``openat2`` at all (``set_backend("openat2")`` needs it).
HAVE_OPENAT2 = bool(_have_openat2)


def set_backend(name: str) -> str:
    """Force a backend (tests run both); returns the previous one. ``"openat2"`` raises
    ``OSError(ENOSYS)`` where the kernel lacks it."""
    global _use_openat2, BACKEND
    if name not in ("openat2", "openat-walk"):
        raise ValueError(f"unknown backend {name!r}; use 'openat2' or 'openat-walk'")
    if name == "openat2" and not _have_openat2:
        raise OSError(38, "openat2 is not available on this kernel (Linux >= 5.6 needed)")
    previous = BACKEND
    _use_openat2 = name == "openat2"
    BACKEND = name
    return previous


cdef bytes _encode(object path, str what):
    if not isinstance(path, str):
        raise TypeError(f"{what} must be a str, not {type(path).__name__}")
    cdef bytes raw = os.fsencode(path)
    if b"\x00" in raw:
        raise ValueError(f"{what} contains a NUL byte; the kernel cannot name such a file")
    if len(raw) >= AIRSSYS_PATH_MAX:
        raise OSError(36, f"{what} is {len(raw)} bytes; the kernel's limit is {AIRSSYS_PATH_MAX - 1}")
    return raw


def open_root(path: str) -> int:
    """Open the absolute directory ``path`` (``O_PATH | O_DIRECTORY``) refusing a symlink in
    any component (``ELOOP``): the grant root itself cannot be swapped for a link."""
    cdef bytes raw = _encode(path, "the root path")
    if not raw.startswith(b"/"):
        raise ValueError(f"the root path must be absolute, not {path!r}")
    cdef const char *c_path = raw
    cdef int fd
    cdef int use = _use_openat2
    with nogil:
        fd = airssys_open_root(use, c_path)
    if fd < 0:
        code = errno
        raise OSError(code, os.strerror(code), path)
    return fd


def open_beneath(int root_fd, rel: str, int flags, unsigned int mode=0o644) -> int:
    """Open ``rel`` (relative, no ``..``) beneath the directory ``root_fd`` with ``flags``
    (``O_CLOEXEC`` and no-symlink resolution are added); the caller owns the returned fd."""
    if root_fd < 0:
        raise ValueError(f"root_fd must be an open directory descriptor, not {root_fd}")
    cdef bytes raw = _encode(rel, "the relative path")
    if raw.startswith(b"/"):
        raise ValueError(f"the path beneath the root must be relative, not {rel!r}")
    if not raw:
        raw = b"."
    cdef const char *c_rel = raw
    cdef int fd
    cdef int use = _use_openat2
    with nogil:
        fd = airssys_open_beneath(use, root_fd, c_rel, flags, mode)
    if fd < 0:
        code = errno
        raise OSError(code, os.strerror(code), rel)
    return fd
