"""WASI preopens derived from filesystem grants: never wider than the grants."""

from __future__ import annotations

from pathlib import Path

import pytest

from airssys_wasm.errors import ManifestError

from airssys_wasm.security import (
    BASELINE_CAPABILITIES,
    Capabilities,
    CapabilityKind,
    Preopen,
    derive_preopens,
)

R, W, D, L = (
    CapabilityKind.FILESYSTEM_READ,
    CapabilityKind.FILESYSTEM_WRITE,
    CapabilityKind.FILESYSTEM_DELETE,
    CapabilityKind.FILESYSTEM_LIST,
)


def test_read_only_where_only_read_is_granted() -> None:
    plan = derive_preopens(Capabilities({R: ("/srv/in/**",), L: ("/srv/in/**",)}))
    assert plan.preopens == (Preopen("/srv/in", "/srv/in", mutable=False),)
    assert plan.preopens[0].read_only and plan.skipped == ()


def test_read_write_delete_on_a_subtree_is_mutable() -> None:
    plan = derive_preopens(Capabilities({R: ("/srv/out/**",), W: ("/srv/out/**",), D: ("/srv/out/**",)}))
    assert plan.preopens == (Preopen("/srv/out", "/srv/out", mutable=True),)


def test_write_without_delete_stays_read_only_and_says_why() -> None:
    plan = derive_preopens(Capabilities({R: ("/srv/out/**",), W: ("/srv/out/**",)}))
    assert plan.preopens == (Preopen("/srv/out", "/srv/out", mutable=False),)
    assert [(s.kind, s.pattern) for s in plan.skipped] == [(W, "/srv/out/**")]
    assert "filesystem.delete" in plan.skipped[0].reason


def test_write_without_read_gets_no_preopen() -> None:
    plan = derive_preopens(Capabilities({W: ("/srv/drop/**",), D: ("/srv/drop/**",)}))
    assert plan.preopens == ()
    assert {s.kind for s in plan.skipped} == {W, D}


def test_non_subtree_patterns_never_become_preopens() -> None:
    plan = derive_preopens(Capabilities({R: ("/etc/hosts", "/srv/*.txt", "/srv/*/data/**", "/logs/**/x")}))
    assert plan.preopens == ()
    assert sorted(s.pattern for s in plan.skipped) == [
        "/etc/hosts",
        "/logs/**/x",
        "/srv/*.txt",
        "/srv/*/data/**",
    ]
    assert all("whole directories" in s.reason for s in plan.skipped)


def test_several_directories_sorted_by_guest_path() -> None:
    plan = derive_preopens(
        Capabilities({R: ("/b/**", "/a/**", "/a/deep/**"), W: ("/a/deep/**",), D: ("/a/deep/**",)})
    )
    assert plan.preopens == (
        Preopen("/a", "/a", False),
        Preopen("/a/deep", "/a/deep", True),
        Preopen("/b", "/b", False),
    )


def test_a_preopen_is_the_real_directory_the_grant_names(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    plan = derive_preopens(Capabilities({R: (f"{tmp_path}/real//**",)}))
    assert plan.preopens == (Preopen(str(tmp_path / "real"), str(tmp_path / "real"), False),)
    with pytest.raises(ManifestError, match="symlinked-grant"):  # no grant through a link
        Capabilities({R: (f"{tmp_path}/link/**",)})


def test_no_filesystem_grants_no_preopens() -> None:
    plan = derive_preopens(BASELINE_CAPABILITIES)
    assert plan.preopens == () and plan.skipped == ()
