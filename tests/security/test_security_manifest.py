"""Component.toml: the schema, the input rule, one test per bad-manifest rule, example files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import airssys_wasm as aw
from airssys_wasm.security import (
    CapabilityKind,
    ManifestLimits,
    ManifestProblem,
    Quota,
    load_manifest,
    manifest_from_dict,
    validate_manifest,
)
from airssys_wasm.security.manifest import parse_size

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "manifests"
HEAD = '[component]\nname = "demo"\nversion = "1.0.0"\n'


def problems_of(text: str) -> list[tuple[str, str]]:
    return [(p.key, p.rule) for p in validate_manifest(text)]


# --- valid manifests ---------------------------------------------------------------------------


def test_full_manifest_parses_into_frozen_dataclasses() -> None:
    m = load_manifest(EXAMPLES / "valid" / "image-resizer.toml")
    assert m.component.name == "image-resizer"
    assert m.component.version == "1.4.2"
    assert m.component.authors == ("Ada Example <ada@example.com>",)
    assert m.limits == ManifestLimits(memory=64 << 20, fuel=500_000_000, timeout_ms=2000, stack=512 << 10)
    assert m.quota == Quota(
        messages_per_second=50, message_burst=100, storage_bytes=16 << 20, network_bytes_per_second=2 << 20
    )
    assert m.capabilities.grants[CapabilityKind.NETWORK_CONNECT] == (
        "api.images.example.com:443",
        "*.cdn.example.com:443",
    )
    assert m.source == str(EXAMPLES / "valid" / "image-resizer.toml")
    with pytest.raises(AttributeError):
        m.component.name = "other"  # type: ignore[misc]
    assert hash(m) == hash(load_manifest(EXAMPLES / "valid" / "image-resizer.toml"))


@pytest.mark.parametrize("path", sorted((EXAMPLES / "valid").glob("*.toml")), ids=lambda p: p.name)
def test_every_valid_example_loads(path: Path) -> None:
    assert validate_manifest(path) == []
    assert load_manifest(path).component.version


@pytest.mark.parametrize("path", sorted((EXAMPLES / "invalid").glob("*.toml")), ids=lambda p: p.name)
def test_every_invalid_example_reports_exactly_its_expected_problems(path: Path) -> None:
    text = path.read_text()
    expected = re.findall(r"^# expect: (\S+) (\S+)$", text, re.M)
    assert expected, "invalid example files must declare their expected problems"
    assert sorted((p.key, p.rule) for p in validate_manifest(path)) == sorted(expected)


def test_minimal_manifest_grants_nothing() -> None:
    m = load_manifest(HEAD)
    assert m.limits == ManifestLimits() and m.quota == Quota()
    for kind in CapabilityKind:
        target = {"network": "a.example.com:1", "filesystem": "/x", "process": "/bin/true"}.get(
            kind.value.split(".")[0], "x"
        )
        assert not m.capabilities.allows(kind, target)


def test_limits_map_onto_the_runtime_field_names() -> None:
    limits = load_manifest(HEAD + "[limits]\nmemory = '32MiB'\nstack = 65536\n").limits
    assert limits.as_runtime_kwargs() == {"memory_bytes": 32 << 20, "stack_bytes": 65536}
    assert ManifestLimits(fuel=7, timeout_ms=9).as_runtime_kwargs() == {"fuel": 7, "timeout_ms": 9}


def test_dotted_keys_and_subtables_are_the_same_schema() -> None:
    dotted = load_manifest(HEAD + '[capabilities]\nstorage.read = ["ns"]\n')
    table = load_manifest(HEAD + '[capabilities.storage]\nread = ["ns"]\n')
    assert dotted.capabilities == table.capabilities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("64MiB", 64 << 20),
        ("1 GiB", 1 << 30),
        ("512kib", 512 << 10),
        ("10MB", 10_000_000),
        (4096, 4096),
        ("7", 7),
    ],
)
def test_human_sizes(text: object, expected: int) -> None:
    assert parse_size(text) == expected


# --- the input rule ---------------------------------------------------------------------------


def test_path_object_and_path_string_are_files(tmp_path: Path) -> None:
    f = tmp_path / "Component.toml"
    f.write_text(HEAD)
    assert load_manifest(f).source == str(f)
    assert load_manifest(str(f)).component.name == "demo"


def test_text_with_newline_and_bytes_are_toml() -> None:
    assert load_manifest(HEAD).source is None
    assert load_manifest(HEAD.encode()).component.name == "demo"


def test_str_without_newline_is_a_path_and_the_error_says_how_to_pass_text() -> None:
    with pytest.raises(aw.ManifestError, match="str with a newline, or bytes"):
        load_manifest('component = {name = "demo", version = "1.0.0"}')
    # the same one-line document as bytes is TOML text
    assert load_manifest(b'component = {name = "demo", version = "1.0.0"}').component.name == "demo"


def test_non_path_non_text_input_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        load_manifest(42)  # type: ignore[arg-type]


# --- every problem at once --------------------------------------------------------------------


def test_load_manifest_raises_with_every_problem_listed() -> None:
    text = '[component]\nname = "x y"\nversion = "1"\nextra = 1\n[limits]\nstack = -1\n'
    with pytest.raises(aw.ManifestError) as info:
        load_manifest(text)
    problems = info.value.problems  # type: ignore[attr-defined]
    assert all(isinstance(p, ManifestProblem) for p in problems)
    assert {(p.key, p.rule) for p in problems} == {
        ("component.name", "bad-name"),
        ("component.version", "bad-semver"),
        ("component.extra", "unknown-key"),
        ("limits.stack", "out-of-range"),
    }
    message = str(info.value)
    for p in problems:
        assert str(p) in message
    assert "4 problems" in message


def test_validate_returns_empty_list_for_valid_and_never_raises_manifest_error() -> None:
    assert validate_manifest(HEAD) == []
    assert validate_manifest("not = [valid\n")[0].rule == "toml-syntax"


def test_manifest_from_dict_uses_the_same_rules() -> None:
    with pytest.raises(aw.ManifestError, match=r"capabilities\.process\.spawn\[0\]"):
        manifest_from_dict(
            {"component": {"name": "a", "version": "1.0.0"}, "capabilities": {"process": {"spawn": ["sh"]}}}
        )


# --- one test per rule -------------------------------------------------------------------------

RULE_CASES = [
    # unknown-key at every level
    ("top-level", "[compnent]\n", "compnent", "unknown-key"),
    ("component", HEAD + "licence = 'MIT'\n", "component.licence", "unknown-key"),
    ("limits", HEAD + "[limits]\ncpu = 1\n", "limits.cpu", "unknown-key"),
    ("quota", HEAD + "[quota]\nmessages = 1\n", "quota.messages", "unknown-key"),
    (
        "cap-family",
        HEAD + "[capabilities]\nfilesytem.read = ['/a']\n",
        "capabilities.filesytem",
        "unknown-key",
    ),
    (
        "cap-op",
        HEAD + "[capabilities]\nfilesystem.exec = ['/a']\n",
        "capabilities.filesystem.exec",
        "unknown-key",
    ),
    # missing-key
    ("no-component", "[limits]\nfuel = 1\n", "component", "missing-key"),
    ("no-name", '[component]\nversion = "1.0.0"\n', "component.name", "missing-key"),
    ("no-version", '[component]\nname = "a"\n', "component.version", "missing-key"),
    ("burst-without-rate", HEAD + "[quota]\nmessage_burst = 5\n", "quota.message_burst", "missing-key"),
    # wrong-type
    ("name-int", '[component]\nname = 1\nversion = "1.0.0"\n', "component.name", "wrong-type"),
    ("authors-str", HEAD + 'authors = "me"\n', "component.authors", "wrong-type"),
    ("limits-not-table", "limits = 5\n" + HEAD, "limits", "wrong-type"),
    ("fuel-bool", HEAD + "[limits]\nfuel = true\n", "limits.fuel", "wrong-type"),
    ("memory-float", HEAD + "[limits]\nmemory = 1.5\n", "limits.memory", "wrong-type"),
    ("rate-str", HEAD + "[quota]\nmessages_per_second = 'fast'\n", "quota.messages_per_second", "wrong-type"),
    ("rate-nan", HEAD + "[quota]\nmessages_per_second = nan\n", "quota.messages_per_second", "wrong-type"),
    (
        "grant-not-list",
        HEAD + "[capabilities]\nstorage.read = 'ns'\n",
        "capabilities.storage.read",
        "wrong-type",
    ),
    ("family-not-table", HEAD + "[capabilities]\nnetwork = ['a:1']\n", "capabilities.network", "wrong-type"),
    (
        "pattern-not-str",
        HEAD + "[capabilities]\nmessaging.send = [1]\n",
        "capabilities.messaging.send[0]",
        "wrong-type",
    ),
    # empty-list / empty-pattern
    (
        "empty-list",
        HEAD + "[capabilities]\nfilesystem.read = []\n",
        "capabilities.filesystem.read",
        "empty-list",
    ),
    ("empty-authors", HEAD + "authors = []\n", "component.authors", "empty-list"),
    ("blank-author", HEAD + "authors = ['  ']\n", "component.authors[0]", "empty-pattern"),
    (
        "empty-path",
        HEAD + "[capabilities]\nfilesystem.list = ['']\n",
        "capabilities.filesystem.list[0]",
        "empty-pattern",
    ),
    (
        "empty-endpoint",
        HEAD + "[capabilities]\nnetwork.bind = ['']\n",
        "capabilities.network.bind[0]",
        "empty-pattern",
    ),
    (
        "empty-namespace",
        HEAD + "[capabilities]\nstorage.write = ['']\n",
        "capabilities.storage.write[0]",
        "empty-pattern",
    ),
    # relative-path
    (
        "relative-fs",
        HEAD + "[capabilities]\nfilesystem.delete = ['tmp/**']\n",
        "capabilities.filesystem.delete[0]",
        "relative-path",
    ),
    (
        "relative-exe",
        HEAD + "[capabilities]\nprocess.spawn = ['bin/sh']\n",
        "capabilities.process.spawn[0]",
        "relative-path",
    ),
    (
        "home-relative",
        HEAD + "[capabilities]\nfilesystem.read = ['~/x']\n",
        "capabilities.filesystem.read[0]",
        "relative-path",
    ),
    # bad-pattern
    (
        "dotdot",
        HEAD + "[capabilities]\nfilesystem.read = ['/app/../etc']\n",
        "capabilities.filesystem.read[0]",
        "bad-pattern",
    ),
    (
        "dot",
        HEAD + "[capabilities]\nfilesystem.read = ['/app/./x']\n",
        "capabilities.filesystem.read[0]",
        "bad-pattern",
    ),
    (
        "partial-doublestar",
        HEAD + "[capabilities]\nfilesystem.read = ['/app/a**']\n",
        "capabilities.filesystem.read[0]",
        "bad-pattern",
    ),
    (
        "too-many-stars",
        HEAD + "[capabilities]\nfilesystem.read = ['/a/*a*b*c*d*']\n",
        "capabilities.filesystem.read[0]",
        "bad-pattern",
    ),
    (
        "nul-in-path",
        HEAD + '[capabilities]\nfilesystem.read = ["/a\\u0000b"]\n',
        "capabilities.filesystem.read[0]",
        "bad-pattern",
    ),
    (
        "bad-name-glob",
        HEAD + "[capabilities]\nmessaging.send = ['worker #1']\n",
        "capabilities.messaging.send[0]",
        "bad-pattern",
    ),
    # bad-port
    (
        "port-missing",
        HEAD + "[capabilities]\nnetwork.connect = ['example.com']\n",
        "capabilities.network.connect[0]",
        "bad-port",
    ),
    (
        "port-zero",
        HEAD + "[capabilities]\nnetwork.connect = ['example.com:0']\n",
        "capabilities.network.connect[0]",
        "bad-port",
    ),
    (
        "port-too-big",
        HEAD + "[capabilities]\nnetwork.connect = ['example.com:65536']\n",
        "capabilities.network.connect[0]",
        "bad-port",
    ),
    (
        "port-word",
        HEAD + "[capabilities]\nnetwork.connect = ['example.com:https']\n",
        "capabilities.network.connect[0]",
        "bad-port",
    ),
    (
        "port-signed",
        HEAD + "[capabilities]\nnetwork.connect = ['example.com:+80']\n",
        "capabilities.network.connect[0]",
        "bad-port",
    ),
    # bad-host
    (
        "ipv6-unbracketed",
        HEAD + "[capabilities]\nnetwork.connect = ['::1:80']\n",
        "capabilities.network.connect[0]",
        "bad-host",
    ),
    (
        "bracket-not-ipv6",
        HEAD + "[capabilities]\nnetwork.connect = ['[example.com]:80']\n",
        "capabilities.network.connect[0]",
        "bad-host",
    ),
    (
        "bracket-no-port",
        HEAD + "[capabilities]\nnetwork.connect = ['[::1]']\n",
        "capabilities.network.connect[0]",
        "bad-host",
    ),
    (
        "zone-id",
        HEAD + "[capabilities]\nnetwork.connect = ['[fe80::1%eth0]:80']\n",
        "capabilities.network.connect[0]",
        "bad-host",
    ),
    (
        "star-host",
        HEAD + "[capabilities]\nnetwork.connect = ['*:443']\n",
        "capabilities.network.connect[0]",
        "bad-host",
    ),
    (
        "inner-wildcard",
        HEAD + "[capabilities]\nnetwork.connect = ['api.*.com:443']\n",
        "capabilities.network.connect[0]",
        "bad-host",
    ),
    (
        "glued-wildcard",
        HEAD + "[capabilities]\nnetwork.connect = ['*example.com:443']\n",
        "capabilities.network.connect[0]",
        "bad-host",
    ),
    (
        "bad-label",
        HEAD + "[capabilities]\nnetwork.connect = ['-bad.example.com:443']\n",
        "capabilities.network.connect[0]",
        "bad-host",
    ),
    (
        "numeric-host",
        HEAD + "[capabilities]\nnetwork.connect = ['127.1:80']\n",
        "capabilities.network.connect[0]",
        "bad-host",
    ),
    (
        "empty-label",
        HEAD + "[capabilities]\nnetwork.connect = ['a..b:80']\n",
        "capabilities.network.connect[0]",
        "bad-host",
    ),
    # component identity
    ("bad-semver", '[component]\nname = "a"\nversion = "1.0"\n', "component.version", "bad-semver"),
    (
        "semver-leading-zero",
        '[component]\nname = "a"\nversion = "01.0.0"\n',
        "component.version",
        "bad-semver",
    ),
    ("bad-name", '[component]\nname = "../evil"\nversion = "1.0.0"\n', "component.name", "bad-name"),
    # sizes and ranges
    ("bad-size-unit", HEAD + "[limits]\nmemory = '64 parsecs'\n", "limits.memory", "bad-size"),
    ("bad-size-negative", HEAD + "[limits]\nstack = '-1MiB'\n", "limits.stack", "bad-size"),
    ("memory-too-small", HEAD + "[limits]\nmemory = 1024\n", "limits.memory", "out-of-range"),
    ("memory-too-big", HEAD + "[limits]\nmemory = '5GiB'\n", "limits.memory", "out-of-range"),
    ("fuel-zero", HEAD + "[limits]\nfuel = 0\n", "limits.fuel", "out-of-range"),
    ("timeout-negative", HEAD + "[limits]\ntimeout_ms = -5\n", "limits.timeout_ms", "out-of-range"),
    ("rate-zero", HEAD + "[quota]\nmessages_per_second = 0\n", "quota.messages_per_second", "out-of-range"),
    (
        "burst-zero",
        HEAD + "[quota]\nmessages_per_second = 1\nmessage_burst = 0\n",
        "quota.message_burst",
        "out-of-range",
    ),
    (
        "bandwidth-zero",
        HEAD + "[quota]\nnetwork_bytes_per_second = 0\n",
        "quota.network_bytes_per_second",
        "out-of-range",
    ),
    # whole-file rules
    ("toml-syntax", "[component\n", "", "toml-syntax"),
]


@pytest.mark.parametrize(("text", "key", "rule"), [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES])
def test_each_rule_names_the_key(text: str, key: str, rule: str) -> None:
    assert (key, rule) in problems_of(text)
    with pytest.raises(aw.ManifestError) as info:
        load_manifest(text)
    assert f"[{rule}]" in str(info.value)
    if key:
        assert f"{key}:" in str(info.value)


def test_unreadable_file(tmp_path: Path) -> None:
    assert [p.rule for p in validate_manifest(tmp_path / "missing.toml")] == ["unreadable"]
    assert [p.rule for p in validate_manifest(tmp_path)] == ["unreadable"]  # a directory


def test_non_utf8(tmp_path: Path) -> None:
    f = tmp_path / "Component.toml"
    f.write_bytes(HEAD.encode() + b"description = '\xff'\n")
    assert [p.rule for p in validate_manifest(f)] == ["bad-encoding"]


def test_too_large(tmp_path: Path) -> None:
    f = tmp_path / "Component.toml"
    f.write_bytes(HEAD.encode() + b"#" * (1 << 20))
    assert [p.rule for p in validate_manifest(f)] == ["too-large"]


def test_a_valid_key_next_to_a_bad_one_is_still_checked() -> None:
    text = HEAD + "[capabilities]\nfilesystem.read = ['rel']\nfilesystem.write = ['']\nbogus.x = ['a']\n"
    assert sorted(problems_of(text)) == [
        ("capabilities.bogus", "unknown-key"),
        ("capabilities.filesystem.read[0]", "relative-path"),
        ("capabilities.filesystem.write[0]", "empty-pattern"),
    ]


def test_a_grant_path_that_cannot_be_resolved_is_a_manifest_error(monkeypatch) -> None:
    """realpath can fail with EINVAL while a directory is being renamed (seen racing a
    renameat2 swap at spawn): the manifest is refused with a typed error, not an OSError."""
    import errno
    import os

    from airssys_wasm.security import patterns

    real = os.path.realpath

    def racing(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if path.startswith("/srv/racing"):
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(patterns.os.path, "realpath", racing)
    text = ('[component]\nname = "p"\nversion = "1.0.0"\n'
            '[capabilities]\nfilesystem.read = ["/srv/racing/**"]\n')
    with pytest.raises(aw.ManifestError, match="unresolvable-path") as info:
        load_manifest(text)
    assert "/srv/racing" in str(info.value) and "Invalid argument" in str(info.value)
