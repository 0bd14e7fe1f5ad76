"""Hypothesis: the parser and the matchers never fail with anything but ManifestError (or a
documented programming error), and the path matcher agrees with a slow reference."""

from __future__ import annotations

import contextlib
import fnmatch
import string

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import airssys_wasm as aw
from airssys_wasm.security import (
    AuditLog,
    Capabilities,
    CapabilityKind,
    DenyCode,
    MemoryAuditSink,
    PermissionPolicy,
    TokenBucket,
    load_manifest,
    manifest_from_dict,
    validate_manifest,
)
from airssys_wasm.security.manifest import _SCHEMA

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- manifest parser ---------------------------------------------------------------------------

SCHEMA_KEYS = sorted(
    {"component", "limits", "capabilities", "quota"}
    | {k for v in _SCHEMA.values() for k in (v if isinstance(v, set) else set(v) | set().union(*v.values()))}
)
keys = st.one_of(st.sampled_from(SCHEMA_KEYS), st.text(max_size=6))
pattern_text = st.text(alphabet="/.*?%:[]-_aZ09e\x00\n ", max_size=20)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    pattern_text,
    st.sampled_from(["1.0.0", "64MiB", "0", "/a/**", "*.example.com:443", "[::1]:*", "ns", "x"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=12,
)
# Mostly schema-shaped documents, so the fuzzer reaches the per-field and per-pattern rules
# rather than stopping at "unknown key".
FAMILIES = _SCHEMA["capabilities"]
OPS = sorted(set().union(*FAMILIES.values()))
grant_values = (
    st.lists(
        pattern_text
        | st.sampled_from(["/a/**", "/a/*.b", "a.example.com:443", "*.x.org:*", "[::1]:1", "ns-*"]),
        max_size=3,
    )
    | scalars
)
schema_shaped = st.fixed_dictionaries(
    {
        "component": st.fixed_dictionaries(
            {
                "name": st.sampled_from(["demo", "-x", ""]) | scalars,
                "version": st.sampled_from(["1.0.0", "1.0", "1.0.0-rc.1"]) | scalars,
            }
        )
    },
    optional={
        "limits": st.dictionaries(st.sampled_from(sorted(_SCHEMA["limits"])) | keys, scalars, max_size=4),
        "quota": st.dictionaries(st.sampled_from(sorted(_SCHEMA["quota"])) | keys, scalars, max_size=4),
        "capabilities": st.dictionaries(
            st.sampled_from(sorted(FAMILIES)),
            st.dictionaries(st.sampled_from(OPS), grant_values, max_size=3),
            max_size=4,
        ),
    },
)  # fmt: skip


@FUZZ
@given(st.dictionaries(keys, values, max_size=6) | schema_shaped)
def test_random_dict_structures_raise_only_manifest_error(data: dict) -> None:
    try:
        manifest = manifest_from_dict(data)
    except aw.ManifestError as exc:
        assert exc.problems  # type: ignore[attr-defined]
    else:
        assert manifest.component.name == data["component"]["name"]


@FUZZ
@given(scalars | st.lists(scalars, max_size=3))
def test_non_mapping_top_level_is_a_manifest_error(data: object) -> None:
    try:
        manifest_from_dict(data)  # type: ignore[arg-type]
    except aw.ManifestError:
        pass
    else:
        raise AssertionError("a non-table manifest was accepted")


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if value == value and abs(value) != float("inf") else "nan"
    if isinstance(value, str):
        return '"' + value.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in value.items()) + "}"
    return '""'


@FUZZ
@given(schema_shaped, st.integers(0, 200), st.sampled_from(["", "", "[", "=", "\n", '"', "]]"]))
def test_toml_ish_text_never_raises_anything_but_manifest_error(data: dict, cut: int, junk: str) -> None:
    text = "\n".join(f'"{k}" = {toml_value(v)}' for k, v in data.items()) + "\n"
    text = text[:cut] + junk + text[cut:]
    problems = validate_manifest(text + "\n")
    try:
        load_manifest(text + "\n")
    except aw.ManifestError as exc:
        assert list(exc.problems) == problems  # type: ignore[attr-defined]
    else:
        assert problems == []


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b + b"\n"))
def test_arbitrary_text_and_bytes(text: str | bytes) -> None:
    if isinstance(text, str):
        text += "\n"
    with contextlib.suppress(aw.ManifestError):
        load_manifest(text)


# --- matchers ----------------------------------------------------------------------------------

NET = [CapabilityKind.NETWORK_CONNECT, CapabilityKind.NETWORK_BIND]
targets = st.one_of(
    pattern_text,
    st.text(max_size=40),
    st.sampled_from(
        ["/", "/a/../..", "a.example.com:443", "[::1]:80", "[::ffff:1.2.3.4]:1", "x:99999", ":", "[", "]:"]
    ),
)


@FUZZ
@given(st.sampled_from(list(CapabilityKind)), st.lists(pattern_text | st.text(max_size=12), max_size=4))
def test_random_patterns_raise_only_manifest_error(kind: CapabilityKind, patterns: list[str]) -> None:
    with contextlib.suppress(aw.ManifestError):
        Capabilities({kind: tuple(patterns)})


@FUZZ
@given(st.sampled_from(list(CapabilityKind)), targets)
def test_random_targets_return_a_bool(kind: CapabilityKind, target: str) -> None:
    caps = Capabilities(
        {
            CapabilityKind.FILESYSTEM_READ: ("/**",),
            CapabilityKind.FILESYSTEM_WRITE: ("/tmp/*/x?", "/a/**/b"),
            CapabilityKind.NETWORK_CONNECT: ("*.example.com:443", "[::1]:*", "1.2.3.4:1"),
            CapabilityKind.STORAGE_READ: ("*",),
            CapabilityKind.MESSAGING_SEND: ("a*b*c",),
            CapabilityKind.PROCESS_SPAWN: ("/usr/bin/*",),
        }
    )
    assert caps.allows(kind, target) in (True, False)
    if kind in NET:
        assert caps.allows(kind, target) is caps.allows(kind, target)  # cached parse is stable


# Differential: a slow, segment-by-segment reference of the documented glob semantics, on a
# root that does not exist (so resolution is purely lexical and the reference can do it too).
ROOT = "/nonexistent-airssys-fuzz"
seg = st.sampled_from(["a", "b", "ab", "a.b", "%2e%2e", "x y"])
pattern_seg = st.one_of(seg, st.sampled_from(["*", "**", "a*", "*b", "?", "a?", "*.b"]))
target_seg = st.one_of(seg, st.sampled_from(["..", ".", "", "b.b", "aa"]))


def lexical(path: str) -> list[str]:
    out: list[str] = []
    for s in path.split("/"):
        if s in ("", "."):
            continue
        if s == "..":
            if out:
                out.pop()
        else:
            out.append(s)
    return out


def reference_match(pattern: list[str], target: list[str]) -> bool:
    if not pattern:
        return not target
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(reference_match(rest, target[i:]) for i in range(len(target) + 1))
    return bool(target) and fnmatch.fnmatchcase(target[0], head) and reference_match(rest, target[1:])


@settings(max_examples=500, deadline=None)
@given(st.lists(pattern_seg, max_size=5), st.lists(target_seg, max_size=7))
def test_path_matcher_agrees_with_reference(pattern_segs: list[str], target_segs: list[str]) -> None:
    pattern = ROOT + "/" + "/".join(pattern_segs)
    target = ROOT + "/" + "/".join(target_segs)
    expected = reference_match(lexical(pattern), lexical(target))
    assert (
        Capabilities({CapabilityKind.FILESYSTEM_READ: (pattern,)}).allows("filesystem.read", target)
        is expected
    )


labels = st.sampled_from(["example", "evilexample", "com", "a", "api", "EXAMPLE", "xn--bcher-kva"])


@settings(max_examples=500, deadline=None)
@given(st.lists(labels, min_size=1, max_size=4), st.lists(labels, min_size=1, max_size=4), st.booleans(),
       st.sampled_from([443, 80]), st.booleans())  # fmt: skip
def test_host_matcher_agrees_with_reference(
    pat: list[str], tgt: list[str], wildcard: bool, port: int, dot: bool
) -> None:
    pattern = ("*." if wildcard else "") + ".".join(pat) + ":443"
    target = ".".join(tgt) + ("." if dot else "") + f":{port}"
    p_host, t_host = ".".join(pat).lower(), ".".join(tgt).lower()
    if wildcard:
        expected = t_host.endswith("." + p_host) and len(t_host) > len(p_host) + 1
    else:
        expected = t_host == p_host
    expected = expected and port == 443
    assert (
        Capabilities({CapabilityKind.NETWORK_CONNECT: (pattern,)}).allows("network.connect", target)
        is expected
    )


@FUZZ
@given(st.text(alphabet=string.printable, max_size=30))
def test_unknown_kinds_always_raise_value_error(kind: str) -> None:
    assume(kind not in {k.value for k in CapabilityKind})
    try:
        Capabilities().allows(kind, "x")
    except ValueError:
        return
    raise AssertionError(f"{kind!r} was accepted as a kind")


# --- quotas and the policy entry point --------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@FUZZ
@given(
    st.floats(0.5, 100),
    st.integers(1, 50),
    st.lists(st.tuples(st.floats(0, 2), st.integers(1, 5)), max_size=60),
)
def test_token_bucket_never_grants_more_than_burst_plus_rate_times_time(
    rate: float, burst: int, ops: list[tuple[float, int]]
) -> None:
    clock = _Clock()
    bucket = TokenBucket(rate, burst, clock)
    granted = 0
    for dt, n in ops:
        clock.now += dt
        wait = bucket.take(n)
        if wait is None:
            granted += n
        elif n <= burst:
            # retry_after is honest: after waiting it, the same request succeeds
            clock.now += wait
            assert bucket.take(n) is None
            granted += n
        assert granted <= burst + rate * clock.now + 1e-6


@FUZZ
@given(
    st.sampled_from([*CapabilityKind, "filesystem.exec", ""]),
    targets,
    st.none() | st.integers(-10, 10),
    st.sampled_from(["plugin", "ghost"]),
)
def test_policy_check_returns_a_decision_or_raises_a_programming_error(
    kind: str, target: str, amount: int | None, component: str
) -> None:
    policy = PermissionPolicy(audit=AuditLog([MemoryAuditSink()]), clock=_Clock())
    policy.register("plugin", manifest_from_dict(
        {"component": {"name": "plugin", "version": "1.0.0"},
         "capabilities": {"filesystem": {"read": ["/tmp/**"]}, "messaging": {"send": ["*"]},
                          "storage": {"write": ["ns-*"]}, "network": {"connect": ["*.example.com:*"]}},
         "quota": {"messages_per_second": 1, "storage_bytes": 8}}
    ))  # fmt: skip
    try:
        decision = policy.check(component, kind, target, amount=amount)
    except ValueError:
        # unknown kind, or an amount on a kind that is not metered / negative where not allowed
        assert kind not in {k.value for k in CapabilityKind} or amount is not None
        return
    assert decision.allowed in (True, False)
    assert decision.allowed or decision.error in (DenyCode.PERMISSION_DENIED, DenyCode.RESOURCE_EXHAUSTED)
    assert policy.audit.failures == 0
    if component == "ghost":
        assert not decision.allowed
