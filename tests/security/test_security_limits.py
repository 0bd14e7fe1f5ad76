"""One [limits] parser: Component.toml limits and bare [limits] tables become runtime Limits
through the manifest's rules (there is no second parser in the runtime layer)."""

from __future__ import annotations

import pytest

from airssys_wasm import Limits, ManifestError
from airssys_wasm.runtime import limits as runtime_limits
from airssys_wasm.security import limits_from_section, load_manifest

MiB = 1 << 20


def test_section_becomes_runtime_limits_over_a_base() -> None:
    limits = limits_from_section({"memory": "8MiB", "fuel": 1_000_000, "timeout_ms": 250,
                                  "stack": "256KiB"})
    assert limits == Limits(memory_bytes=8 * MiB, fuel=1_000_000, timeout_ms=250,
                            stack_bytes=256 * 1024)
    assert limits_from_section({}) == Limits()
    assert limits_from_section({"memory": 65536}, Limits(timeout_ms=5)).timeout_ms == 5


def test_manifest_limits_and_section_agree() -> None:
    manifest = load_manifest('[component]\nname = "x"\nversion = "1.0.0"\n'
                             '[limits]\nmemory = "2MiB"\ntimeout_ms = 25\n')
    assert Limits().replace(**manifest.limits.as_runtime_kwargs()) == \
        limits_from_section({"memory": "2MiB", "timeout_ms": 25})


@pytest.mark.parametrize("section,needle", [
    ({"memroy": "1MiB"}, "limits.memroy: unknown key"),
    ({"memory": "huge"}, "limits.memory: 'huge' is not a size"),
    ({"fuel": "many"}, "limits.fuel: expected an integer"),
    ({"timeout_ms": -1}, "limits.timeout_ms"),
    ({"memory": 0}, "limits.memory"),
    ({"memory": "8GiB"}, "limits.memory"),
    ({"fuel": True}, "limits.fuel"),
    (["memory"], "expected a table"),
])
def test_every_bad_limit_is_a_manifest_error_naming_the_key(section, needle: str) -> None:
    with pytest.raises(ManifestError) as info:
        limits_from_section(section)
    assert needle in str(info.value)


def test_runtime_limits_have_no_parser_of_their_own() -> None:
    assert not hasattr(Limits, "from_manifest_section")
    assert runtime_limits.__all__ == ["Limits", "parse_size"]


def test_admission_plans_are_reused_only_for_the_same_manifest_level_and_host_limits() -> None:
    """``HostSecurity.admit`` derives limits and ext interfaces once per (manifest, trust level,
    host limits); every combination still gets what a fresh provider computes from scratch."""
    from airssys_wasm.security import HostSecurity

    text = ('[component]\nname = "p"\nversion = "1.0.0"\n[limits]\nfuel = 5000\n'
            '[capabilities.storage]\nread = ["ns"]\n')
    parsed = load_manifest(text)
    bases = [Limits(), Limits(memory_bytes=1 << 20, fuel=10**9)]
    cases = [(manifest, trust, base) for manifest in (None, parsed, text)
             for trust in ("trusted", "unknown") for base in bases]
    shared = HostSecurity()
    for round_ in range(2):  # the second round is served from the plans of the first
        for i, (manifest, trust, base) in enumerate(cases):
            got = shared.admit(f"c{i}", manifest, trust=trust, base_limits=base)
            fresh = HostSecurity().admit("x", manifest, trust=trust, base_limits=base)
            assert (got.limits, got.extensions) == (fresh.limits, fresh.extensions), (round_, i)
            shared.release(f"c{i}")
    assert HostSecurity().admit("m", parsed, trust="trusted", base_limits=bases[0]).limits.fuel \
        == 5000
    assert "airssys:ext-storage/storage@1.0.0" in shared.admit(
        "s", parsed, trust="trusted", base_limits=bases[0]).extensions
    assert not shared.admit("n", None, trust="trusted", base_limits=bases[0]).extensions
