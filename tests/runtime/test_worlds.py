"""The shipped worlds: each WIT package resolves, asks for exactly its functions, and a
component implementing only those is accepted by the host and named by ``inspect``."""

from __future__ import annotations

import re

import pytest

from airssys_wasm import Host, HostConfig
from airssys_wasm import multicodec as mc
from airssys_wasm.runtime import Engine, write_world
from airssys_wasm.runtime.world import LIFECYCLE_FUNCS, WORLDS, satisfied_worlds

from .conftest import example

from .conftest import EXAMPLES
from .test_wit import wasm_tools

#: world -> the example component built against it (examples/wat/build.py), implementing only
#: what the world asks.
IMPLEMENTED_BY = {"airssys-handler": "minimal", "airssys-service": "replier",
                  "airssys-component": "echo"}


@pytest.mark.parametrize("world", list(WORLDS))
def test_each_world_package_resolves_with_exactly_its_exports(world: str, tmp_path) -> None:
    result = wasm_tools("component", "wit", str(write_world(world, tmp_path / world)))
    assert result.returncode == 0, result.stderr
    lifecycle = result.stdout.split("interface component-lifecycle {", 1)[1].split("\n}", 1)[0]
    assert set(re.findall(r"^\s*([a-z][a-z0-9-]*): func", lifecycle, re.M)) == set(WORLDS[world])
    assert f"world {world} {{" in result.stdout
    assert "import host-services;" in result.stdout


def test_worlds_grow_from_handle_message_to_the_full_lifecycle() -> None:
    sizes = [set(funcs) for funcs in WORLDS.values()]
    assert all(small < big for small, big in zip(sizes, sizes[1:]))
    assert sizes[0] == {"handle-message"} and sizes[-1] == set(LIFECYCLE_FUNCS)


def test_unknown_world_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="airssys-handler"):
        write_world("airssys-everything", tmp_path / "x")


@pytest.mark.parametrize("world", list(WORLDS))
def test_component_of_each_world_is_accepted_and_named(world: str, engine: Engine) -> None:
    artifact = engine.load(example(f"{IMPLEMENTED_BY[world]}.wat"))
    assert artifact.exports == frozenset(WORLDS[world])
    named = satisfied_worlds(artifact.exports)
    assert named[-1] == world  # the largest world it satisfies is the one it was built for
    assert named == list(WORLDS)[: list(WORLDS).index(world) + 1]


async def test_service_world_component_answers_requests_and_messages() -> None:
    async with Host(HostConfig()) as host:
        await host.spawn("replier", EXAMPLES / "replier.wat")
        frame = mc.encode_value(mc.Codec.JSON, {"q": 42})
        assert await host.request("replier", frame) == frame
        await host.send("replier", frame)
        assert host.ref("replier").error is None


def test_a_world_can_import_an_extension_interface(tmp_path) -> None:
    package = write_world("airssys-handler", tmp_path / "w",
                          imports=("airssys:ext-storage/storage@1.0.0",))
    result = wasm_tools("component", "wit", str(package))
    assert result.returncode == 0, result.stderr
    world = result.stdout.split("world airssys-handler {", 1)[1].split("}", 1)[0]
    assert "import airssys:ext-storage/storage@1.0.0;" in world
    assert "import host-services;" in world
