"""`airssys-wasm inspect` and `Host.spawn` give the same verdict on every example component,
good and bad: the verdict comes from the loader spawn uses, and the loader refuses at load
what spawn could not link (a WASI interface the host does not provide)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airssys_wasm import Host, HostConfig, LoadError
from airssys_wasm.cli.inspect import inspect_file
from cli_helpers import wat_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "wat"
GOOD = ["minimal", "replier", "echo", "pingpong", "chaos", "crasher", "counter", "stage"]
BAD = ["bad-signature", "no-handle-message", "bad-host-import", "old-wasi"]


async def spawn_verdict(path: Path) -> str | None:
    """None if Host.spawn accepts the component, else the LoadError it raised."""
    manifest = path.with_suffix(".toml")
    async with Host(HostConfig(health=None)) as host:
        try:
            await host.spawn(path.stem, path, manifest=manifest if manifest.exists() else None)
        except LoadError as exc:
            return str(exc)
        return None


@pytest.mark.parametrize("name", GOOD + BAD)
async def test_inspect_and_spawn_agree(name: str) -> None:
    path = wat_file(name)
    report = inspect_file(path)
    refused = await spawn_verdict(path)
    assert (not report.problems) == (refused is None), (report.problems, refused)
    assert (refused is None) == (name in GOOD)


async def test_a_custom_import_is_refused_by_both_for_a_host_without_it(tmp_path) -> None:
    # foreign-import imports evil:pkg/backdoor: whether spawn accepts it depends on the host
    # (Host.provide), which inspect learns from --wit: given this host's WIT, they agree.
    path = EXAMPLES / "foreign-import.wat"
    host_wit = tmp_path / "host.wit"
    host_wit.write_text("package acme:other@1.0.0;\n\ninterface x {\n    f: func();\n}\n")
    assert inspect_file(path, [host_wit]).problems
    refused = await spawn_verdict(path)
    assert refused is not None and "evil:pkg/backdoor@1.0.0" in refused


async def test_old_wasi_is_refused_at_load_naming_the_interface() -> None:
    refused = await spawn_verdict(EXAMPLES / "old-wasi.wat")
    assert refused is not None and "imports `wasi:io/streams`" in refused
    assert "WASI 0.2" in refused and "cannot instantiate" not in refused
    [problem] = inspect_file(EXAMPLES / "old-wasi.wat").problems
    assert "imports `wasi:io/streams`" in problem


@pytest.mark.parametrize("name,worlds", [("minimal", "airssys-handler"),
                                         ("replier", "airssys-handler, airssys-service"),
                                         ("echo", "airssys-handler, airssys-service, airssys-component")])
def test_inspect_names_the_worlds_a_component_satisfies(name: str, worlds: str) -> None:
    from cli_helpers import invoke

    result = invoke("inspect", wat_file(name))
    assert result.exit_code == 0, result.output
    assert f"worlds it satisfies: {worlds}\n" in result.output


def test_a_refused_component_satisfies_no_world() -> None:
    assert inspect_file(EXAMPLES / "bad-signature.wat").worlds == []
