"""Filesystem and executable grants: normalisation, symlinks, globs, and the seed's escapes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airssys_wasm.errors import ManifestError
from airssys_wasm.security import Capabilities, CapabilityKind
from airssys_wasm.security.patterns import resolve_target_path

READ = CapabilityKind.FILESYSTEM_READ


def caps(kind: CapabilityKind, *patterns: str | Path) -> Capabilities:
    return Capabilities({kind: tuple(str(p) for p in patterns)})


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp/data/{a.txt, sub/b.txt}, tmp/secret.txt, tmp/outside/c.txt — real files."""
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "data" / "a.txt").write_text("a")
    (tmp_path / "data" / "sub" / "b.txt").write_text("b")
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "outside" / "c.txt").write_text("c")
    return tmp_path


# --- the seed's bug and other traversal -------------------------------------------------------


def test_seed_bug_dotdot_never_escapes_a_single_segment_grant() -> None:
    c = caps(READ, "/app/data/*")
    assert not c.allows("filesystem.read", "/app/data/../../../etc/passwd")
    assert not c.allows("filesystem.read", "/app/data/x/../../../etc/passwd")
    assert c.allows("filesystem.read", "/app/data/x/../y")  # stays inside: /app/data/y


@pytest.mark.parametrize(
    "rel",
    ["data/../secret.txt", "data/sub/../../secret.txt", "data/./../secret.txt", "data//..//secret.txt",
     "data/sub/../../outside/c.txt", "data/../data/../secret.txt"],
)  # fmt: skip
def test_dotdot_out_of_a_subtree_grant_is_denied(tree: Path, rel: str) -> None:
    c = caps(READ, tree / "data" / "**")
    assert not c.allows("filesystem.read", f"{tree}/{rel}")


@pytest.mark.parametrize(
    "rel", ["data//a.txt", "data/./a.txt", "data/sub/../a.txt", "data///sub//b.txt", "data/sub/"]
)
def test_double_slashes_and_dots_inside_the_grant_are_normalised_and_allowed(tree: Path, rel: str) -> None:
    c = caps(READ, tree / "data" / "**")
    assert c.allows("filesystem.read", f"{tree}/{rel}")
    assert c.allows("filesystem.read", f"/{tree}//{rel}")  # leading '//' too


def test_percent_encoded_traversal_is_a_literal_name_and_does_not_escape(tree: Path) -> None:
    target = f"{tree}/data/%2e%2e/secret.txt"
    # Not decoded: it names a (non-existent) entry '%2e%2e' inside data/, so a subtree grant
    # covers it — and opening it cannot reach tmp/secret.txt.
    assert resolve_target_path(target) == f"{tree}/data/%2e%2e/secret.txt"
    assert caps(READ, tree / "data" / "**").allows("filesystem.read", target)
    with pytest.raises(FileNotFoundError):
        Path(target).read_text()
    # a single-segment grant does not cover it, and neither do mixed encodings
    single = caps(READ, tree / "data" / "*")
    assert not single.allows("filesystem.read", target)
    assert not single.allows("filesystem.read", f"{tree}/data/%2E%2E%2Fsecret.txt/x")
    assert not caps(READ, tree / "data" / "**").allows(
        "filesystem.read", f"{tree}/data/..%2fsecret.txt/../../x"
    )


# --- symlinks ----------------------------------------------------------------------------------


def test_symlink_to_a_file_outside_is_denied(tree: Path) -> None:
    (tree / "data" / "link").symlink_to("../secret.txt")
    c = caps(READ, tree / "data" / "**")
    assert not c.allows("filesystem.read", f"{tree}/data/link")
    assert c.allows("filesystem.read", f"{tree}/data/a.txt")


def test_symlinked_directory_escape_is_denied(tree: Path) -> None:
    (tree / "data" / "door").symlink_to(tree / "outside")
    c = caps(READ, tree / "data" / "**")
    assert not c.allows("filesystem.read", f"{tree}/data/door/c.txt")
    assert not c.allows("filesystem.read", f"{tree}/data/door/new-file")  # not existing yet: still resolved
    assert not c.allows("filesystem.read", f"{tree}/data/door")


def test_symlink_chain_and_relative_links_are_followed(tree: Path) -> None:
    (tree / "data" / "hop1").symlink_to("hop2")
    (tree / "data" / "hop2").symlink_to("sub/../../outside")
    c = caps(READ, tree / "data" / "**")
    assert not c.allows("filesystem.read", f"{tree}/data/hop1/c.txt")


def test_symlink_within_the_grant_is_allowed(tree: Path) -> None:
    (tree / "data" / "alias").symlink_to("sub")
    c = caps(READ, tree / "data" / "**")
    assert c.allows("filesystem.read", f"{tree}/data/alias/b.txt")


def test_symlink_loop_is_not_an_error(tree: Path) -> None:
    (tree / "data" / "loop").symlink_to("loop")
    c = caps(READ, tree / "outside" / "**")
    assert c.allows("filesystem.read", f"{tree}/data/loop/x") is False


def test_a_filesystem_grant_through_a_symlink_is_refused_with_the_real_path(tree: Path) -> None:
    """A grant's own path must not follow symlinks: another process renaming a directory on
    it at the moment it is resolved could point the grant outside (see test_security_races)."""
    (tree / "view").symlink_to(tree / "data")
    with pytest.raises(ManifestError, match="symlinked-grant") as info:
        caps(READ, tree / "view" / "**")
    assert f"write the real path, '{tree}/data/**'" in str(info.value)
    assert caps(READ, tree / "data" / "**").allows("filesystem.read", f"{tree}/data/a.txt")


def test_executable_grant_follows_symlinks(tree: Path) -> None:
    (tree / "bin").mkdir()
    tool = tree / "bin" / "tool"
    tool.write_text("#!/bin/sh\n")
    (tree / "bin" / "evil").symlink_to(tree / "outside" / "c.txt")
    (tree / "outside" / "tool-link").symlink_to(tool)
    c = caps(CapabilityKind.PROCESS_SPAWN, tree / "bin" / "*")
    assert c.allows("process.spawn", str(tool))
    assert not c.allows("process.spawn", f"{tree}/bin/evil")
    assert c.allows("process.spawn", f"{tree}/outside/tool-link")  # it *is* the granted binary


def test_dangling_symlink_cannot_be_used_to_create_a_file_outside(tree: Path) -> None:
    (tree / "data" / "dangling").symlink_to(tree / "outside" / "planted")
    c = Capabilities({CapabilityKind.FILESYSTEM_WRITE: (f"{tree}/data/**",)})
    assert not c.allows("filesystem.write", f"{tree}/data/dangling")
    assert c.allows("filesystem.write", f"{tree}/data/new-file")  # a genuinely new name is fine


@pytest.mark.parametrize(
    "rel",
    ["data/door/c.txt", "data/rel", "data//sub/./b.txt", "data/door/../secret.txt", "data/nope/x",
     "data/new-file", "data/door/new-file", "data/dangling", "data/loop", "data/a.txt/x", "data/sub/",
     "data/..", "data/.", "data/sub/new/..", "/"],
)  # fmt: skip
def test_kernel_resolution_agrees_with_realpath(tree: Path, rel: str) -> None:
    (tree / "data" / "door").symlink_to(tree / "outside")
    (tree / "data" / "rel").symlink_to("sub/../a.txt")
    (tree / "data" / "dangling").symlink_to(tree / "outside" / "planted")
    (tree / "data" / "loop").symlink_to("loop")
    target = rel if rel == "/" else f"{tree}/{rel}"
    assert resolve_target_path(target) == os.path.realpath(target)


# --- glob semantics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "target", "expected"),
    [
        ("/d/*", "/d/a", True),
        ("/d/*", "/d/a/b", False),
        ("/d/*", "/d", False),
        ("/d/**", "/d", True),
        ("/d/**", "/d/a/b/c", True),
        ("/d/**", "/dx/a", False),
        ("/d/**", "/", False),
        ("/a/**/z", "/a/z", True),
        ("/a/**/z", "/a/b/c/z", True),
        ("/a/**/z", "/a/b/c/zz", False),
        ("/a/*/z", "/a/b/z", True),
        ("/a/*/z", "/a/b/c/z", False),
        ("/logs/*.log", "/logs/app.log", True),
        ("/logs/*.log", "/logs/app.log.1", False),
        ("/logs/*.log", "/logs/sub/app.log", False),
        ("/logs/app-?.log", "/logs/app-1.log", True),
        ("/logs/app-?.log", "/logs/app-12.log", False),
        ("/", "/", True),
        ("/", "/etc", False),
        ("/**", "/etc/passwd", True),
        ("/**", "/", True),
        ("/d/**/**", "/d/x", True),
        ("//d///e/", "/d/e", True),
        ("/d/e", "/d/e/f", False),
    ],
)
def test_glob_semantics(pattern: str, target: str, expected: bool) -> None:
    root = "/nonexistent-airssys-test"  # not on disk: realpath is purely lexical below it
    pattern = pattern if pattern in ("/", "/**") else root + pattern
    target = target if pattern.startswith("/**") or pattern == "/" else root + target
    assert caps(READ, pattern).allows("filesystem.read", target) is expected


def test_glob_metacharacters_in_a_literal_directory_name_are_literal(tmp_path: Path) -> None:
    odd = tmp_path / "a[b]"
    odd.mkdir()
    (tmp_path / "ab").mkdir()
    c = caps(READ, f"{odd}/*")
    assert c.allows("filesystem.read", f"{odd}/x")
    assert not c.allows("filesystem.read", f"{tmp_path}/ab/x")


def test_several_patterns_of_one_kind_are_ored_and_kinds_are_separate() -> None:
    c = Capabilities({READ: ("/r/**", "/s/*"), CapabilityKind.FILESYSTEM_WRITE: ("/w/**",)})
    assert c.allows("filesystem.read", "/r/x/y") and c.allows("filesystem.read", "/s/x")
    assert not c.allows("filesystem.read", "/w/x")
    assert c.allows("filesystem.write", "/w/x") and not c.allows("filesystem.write", "/r/x")
    assert not c.allows("filesystem.delete", "/r/x") and not c.allows("filesystem.list", "/r")


@pytest.mark.parametrize("target", ["relative/path", "", "./x", "~/x", "/r/\x00/x", "/r/" + "x" * 5000])
def test_uninterpretable_targets_are_denied(target: str) -> None:
    assert caps(READ, "/**").allows("filesystem.read", target) is False


def test_pathlike_target_and_wrong_type() -> None:
    c = caps(READ, "/nonexistent-airssys-test/**")
    assert c.allows("filesystem.read", Path("/nonexistent-airssys-test/x"))
    with pytest.raises(TypeError):
        c.allows("filesystem.read", b"/nonexistent-airssys-test/x")
