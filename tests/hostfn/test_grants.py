"""``[capabilities] interfaces`` and ``[quota] interface_calls_per_second``: the manifest keys
of custom interfaces, their glob syntax, and what ``validate`` / ``inspect`` say."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from airssys_wasm.cli import main
from airssys_wasm.errors import ManifestError
from airssys_wasm.security import load_manifest, validate_manifest
from airssys_wasm.security.capabilities import Capabilities, CapabilityKind

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "host_functions"
HEAD = '[component]\nname = "c"\nversion = "1.0.0"\n'


def test_interfaces_grant_and_quota_parse() -> None:
    m = load_manifest(HEAD + '[capabilities]\ninterfaces = ["acme:billing/*", "x:y/z@1.2.0"]\n'
                      "[quota]\ninterface_calls_per_second = 50\n")
    assert m.capabilities.grants[CapabilityKind.INTERFACES] == ("acme:billing/*", "x:y/z@1.2.0")
    assert m.quota.interface_calls_per_second == 50


@pytest.mark.parametrize("patterns,target,allowed", [
    (["acme:billing/*"], "acme:billing/ledger@1.0.0", True),
    (["acme:billing/*"], "acme:billing/ledger@1.0.0#charge", True),
    (["acme:billing/*"], "acme:bill/ledger@1.0.0", False),
    (["acme:*"], "acme:billing/ledger@1.0.0", True),
    (["acme:billing/ledger@1.*"], "acme:billing/ledger@1.4.2", True),
    (["acme:billing/ledger@1.*"], "acme:billing/ledger@2.0.0", False),
    (["acme:billing/ledger"], "acme:billing/ledger@1.0.0", False),  # versions are part of it
    (["acme:billing/ledger@1.0.0"], "acme:billing/ledger@1.0.0", True),
])
def test_interface_globs(patterns: list[str], target: str, allowed: bool) -> None:
    caps = Capabilities({CapabilityKind.INTERFACES: tuple(patterns)})
    assert caps.allows("interfaces", target) is allowed


@pytest.mark.parametrize("value,key,rule", [
    ('["acme billing/*"]', "capabilities.interfaces[0]", "bad-pattern"),
    ('["ledger"]', "capabilities.interfaces[0]", "bad-pattern"),
    ('[""]', "capabilities.interfaces[0]", "empty-pattern"),
    ("[]", "capabilities.interfaces", "empty-list"),
    ('{ read = ["x"] }', "capabilities.interfaces", "wrong-type"),
])
def test_bad_interface_grants_name_the_key(value: str, key: str, rule: str) -> None:
    problems = validate_manifest(HEAD + f"[capabilities]\ninterfaces = {value}\n")
    assert [(p.key, p.rule) for p in problems] == [(key, rule)]
    with pytest.raises(ManifestError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_manifest(HEAD + f"[capabilities]\ninterfaces = {value}\n")


def test_bad_quota_is_reported() -> None:
    problems = validate_manifest(HEAD + "[quota]\ninterface_calls_per_second = 0\n")
    assert [(p.key, p.rule) for p in problems] == [("quota.interface_calls_per_second",
                                                    "out-of-range")]


def test_validate_and_inspect_know_custom_interfaces() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["validate", str(EXAMPLE / "Component.toml")])
    assert out.exit_code == 0 and "interfaces (1)" in out.output, out.output
    out = runner.invoke(main, ["inspect", str(EXAMPLE / "guest.wat")])
    assert out.exit_code == 0, out.output
    assert "acme:billing/ledger@1.0.0" in out.output
    assert "is a custom interface" in out.output and "not known without a host" in out.output
    assert "satisfies the airssys-component world" in out.output


def test_inspect_checks_custom_imports_against_given_wit(tmp_path: Path) -> None:
    runner = CliRunner()
    guest = str(EXAMPLE / "guest.wat")
    out = runner.invoke(main, ["inspect", guest, "--wit", str(EXAMPLE / "billing.wit")])
    assert out.exit_code == 0, out.output
    assert "declared by --wit" in out.output and "with the same types" in out.output
    edited = tmp_path / "billing.wit"
    edited.write_text((EXAMPLE / "billing.wit").read_text().replace("cents: u64,", "cents: u32,"))
    out = runner.invoke(main, ["inspect", guest, "--wit", str(edited)])
    assert out.exit_code == 1
    assert "imports `charge` from acme:billing/ledger@1.0.0 with another type" in out.output
    assert "parameter 'request'.cents: declared u32, the guest has u64" in out.output
    other = tmp_path / "other.wit"
    other.write_text("package acme:other@1.0.0;\ninterface x { f: func(); }\n")
    out = runner.invoke(main, ["inspect", guest, "--wit", str(other)])
    assert out.exit_code == 1 and "the given --wit does not declare" in out.output
    bad = tmp_path / "bad.wit"
    bad.write_text("package acme:bad;\ninterface x { f: func(a: nope); }\n")
    out = runner.invoke(main, ["inspect", guest, "--wit", str(bad)])
    assert out.exit_code == 1 and "bad.wit:2:26: unknown type 'nope'" in out.output
