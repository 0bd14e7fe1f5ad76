"""_fast._fsbeneath: opens beneath a directory fd that follow no symlink, on both backends."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from airssys_wasm._fast import _fsbeneath


#: Both backends where the kernel has openat2 (Linux >= 5.6), the walk alone elsewhere.
BACKENDS = (["openat2"] if _fsbeneath.HAVE_OPENAT2 else []) + ["openat-walk"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    previous = _fsbeneath.set_backend(request.param)
    yield request.param
    _fsbeneath.set_backend(previous)


@pytest.fixture
def root(tmp_path: Path) -> Iterator[int]:
    base = tmp_path.resolve()
    (base / "d" / "e").mkdir(parents=True)
    (base / "d" / "e" / "f.txt").write_bytes(b"f")
    (base / "d" / "link").symlink_to("e")
    (base / "d" / "abs").symlink_to(base / "d" / "e" / "f.txt")
    (base / "d" / "loop").symlink_to("loop")
    fd = _fsbeneath.open_root(str(base / "d"))
    yield fd
    os.close(fd)


def opened(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def test_opens_plain_paths_and_the_root_itself(root: int, backend: str) -> None:
    assert opened(_fsbeneath.open_beneath(root, "e/f.txt", os.O_RDONLY)).endswith("/d/e/f.txt")
    assert opened(_fsbeneath.open_beneath(root, "e//f.txt", os.O_RDONLY)).endswith("/d/e/f.txt")
    assert opened(_fsbeneath.open_beneath(root, ".", os.O_RDONLY | os.O_DIRECTORY)).endswith("/d")
    assert opened(_fsbeneath.open_beneath(root, "", os.O_RDONLY | os.O_DIRECTORY)).endswith("/d")
    assert opened(_fsbeneath.open_beneath(root, "e", os.O_RDONLY | os.O_DIRECTORY)).endswith("/d/e")


@pytest.mark.parametrize(("rel", "flags", "code"), [
    ("link/f.txt", os.O_RDONLY, errno.ELOOP),          # a symlink in the middle
    ("abs", os.O_RDONLY, errno.ELOOP),                 # a final symlink
    ("loop", os.O_RDONLY, errno.ELOOP),
    ("link", os.O_RDONLY | os.O_DIRECTORY, errno.ELOOP),
    ("link", os.O_PATH | os.O_DIRECTORY, errno.ELOOP),
    ("../d/e/f.txt", os.O_RDONLY, errno.EXDEV),        # leaving the root
    ("e/../../x", os.O_RDONLY, errno.EXDEV),
    ("e/f.txt/x", os.O_RDONLY, errno.ENOTDIR),
    ("nope/x", os.O_RDONLY, errno.ENOENT),
    ("e/f.txt", os.O_RDONLY | os.O_DIRECTORY, errno.ENOTDIR),
])  # fmt: skip
def test_refusals_carry_their_errno(root: int, backend: str, rel: str, flags: int, code: int) -> None:
    with pytest.raises(OSError) as info:
        _fsbeneath.open_beneath(root, rel, flags)
    assert info.value.errno == code, (rel, info.value)


def test_o_path_nofollow_opens_a_final_link_as_itself(root: int, backend: str) -> None:
    fd = _fsbeneath.open_beneath(root, "abs", os.O_PATH | os.O_NOFOLLOW)
    try:
        assert stat.S_ISLNK(os.fstat(fd).st_mode)
    finally:
        os.close(fd)


def test_root_must_be_symlink_free_absolute_directory(tmp_path: Path, backend: str) -> None:
    base = tmp_path.resolve()
    (base / "real").mkdir()
    (base / "via").symlink_to("real")
    (base / "file").write_bytes(b"")
    os.close(_fsbeneath.open_root(str(base / "real")))
    for path, code in ((base / "via", errno.ELOOP), (base / "via" / "x", errno.ELOOP),
                       (base / "file", errno.ENOTDIR), (base / "missing", errno.ENOENT)):
        with pytest.raises(OSError) as info:
            _fsbeneath.open_root(str(path))
        assert info.value.errno == code, path
    os.close(_fsbeneath.open_root("/"))


def test_bad_arguments_are_typed_errors(root: int) -> None:
    with pytest.raises(ValueError, match="NUL"):
        _fsbeneath.open_beneath(root, "a\x00b", os.O_RDONLY)
    with pytest.raises(OSError) as info:
        _fsbeneath.open_beneath(root, "a" * 5000, os.O_RDONLY)
    assert info.value.errno == errno.ENAMETOOLONG
    with pytest.raises(ValueError, match="relative"):
        _fsbeneath.open_beneath(root, "/etc/passwd", os.O_RDONLY)
    with pytest.raises(ValueError, match="absolute"):
        _fsbeneath.open_root("relative/dir")
    with pytest.raises(ValueError, match="descriptor"):
        _fsbeneath.open_beneath(-1, "x", os.O_RDONLY)
    with pytest.raises(TypeError):
        _fsbeneath.open_beneath(root, b"x", os.O_RDONLY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown backend"):
        _fsbeneath.set_backend("magic")
