"""What ``import airssys_wasm`` loads (issue 17: import what a command needs, when it needs it).

Structural, not timed: each check runs a fresh interpreter and looks at ``sys.modules``, so a
module-level import that drags the engine, the codecs, rich or the metrics exporters back into
the package import fails here on any machine, however fast it is. The timings are in the
``startup`` benchmark suite.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import airssys_wasm

#: Loaded only by the names (or commands) that need them, never by ``import airssys_wasm``.
DEFERRED = [
    "wasmtime", "asyncio", "rich", "click", "cbor2", "msgpack", "orjson", "sqlite3", "ssl",
    "airssys_wasm._fast._wasmtime", "airssys_wasm.actor", "airssys_wasm.runtime.engine",
    "airssys_wasm.runtime.wit_parser", "airssys_wasm.runtime.cache", "airssys_wasm.host.host",
    "airssys_wasm.host.metrics", "airssys_wasm.host.prometheus", "airssys_wasm.host.otel",
    "airssys_wasm.host.ext_storage", "airssys_wasm.host.ext_network", "airssys_wasm.security",
    "airssys_wasm.multicodec", "airssys_wasm.cli", "airssys_wasm.cli.guest",
]


def _modules_after(code: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", f"{code}\nimport json, sys\n"
                           "print(json.dumps(sorted(sys.modules)))"],
                          capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_package_loads_none_of_the_heavy_modules() -> None:
    loaded = _modules_after("import airssys_wasm")
    assert "airssys_wasm" in loaded
    assert sorted(loaded & set(DEFERRED)) == []


def test_the_help_of_the_command_loads_neither_the_engine_nor_the_host() -> None:
    loaded = _modules_after("from click.testing import CliRunner\n"
                            "from airssys_wasm.cli.main import main\n"
                            "result = CliRunner().invoke(main, ['--help'])\n"
                            "assert result.exit_code == 0 and 'Usage' in result.output\n"
                            "result = CliRunner().invoke(main, ['build', '--help'])\n"
                            "assert 'airssys-handler' in result.output, result.output")
    assert "click" in loaded
    heavy = {"wasmtime", "asyncio", "rich", "airssys_wasm.host.host", "airssys_wasm.actor",
             "airssys_wasm._fast._wasmtime", "airssys_wasm.security", "airssys_wasm.multicodec"}
    assert sorted(loaded & heavy) == []


def test_a_codec_library_loads_with_the_first_use_of_its_codec() -> None:
    loaded = _modules_after("from airssys_wasm import multicodec as mc\n"
                            "assert mc.decode_value(mc.encode_value(mc.Codec.JSON, [1])) == [1]")
    assert "orjson" in loaded
    assert not loaded & {"cbor2", "msgpack"}


def test_every_public_name_resolves_to_the_object_its_module_defines() -> None:
    for name in airssys_wasm.__all__:
        value = getattr(airssys_wasm, name)
        assert value is not None, name
        if name != "__version__":
            home = sys.modules[value.__module__] if hasattr(value, "__module__") else None
            assert home is not None and getattr(home, name, value) is value, name
    assert set(airssys_wasm.__all__) <= set(dir(airssys_wasm))
    assert airssys_wasm.Host is airssys_wasm.host.Host
    assert airssys_wasm.security.Manifest.__name__ == "Manifest"  # submodules stay reachable


@pytest.mark.parametrize("package", ["airssys_wasm.host", "airssys_wasm.runtime"])
def test_every_name_of_a_lazy_subpackage_resolves(package: str) -> None:
    # A name added to __all__ (or to the TYPE_CHECKING imports) but not to the lazy map
    # would type-check and render in the docs, then fail at runtime: caught here.
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
    assert set(module.__all__) <= set(dir(module))


def test_a_name_the_package_does_not_have_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Hots'"):
        airssys_wasm.Hots  # noqa: B018
    with pytest.raises(ImportError):
        exec("from airssys_wasm import Hots", {})


def test_host_is_secure_by_default_without_importing_the_security_layer_first() -> None:
    # The root installs a factory that loads airssys_wasm.security on the first Host.
    loaded = _modules_after("from airssys_wasm.host import Host\n"
                            "import sys\n"
                            "assert 'airssys_wasm.security' not in sys.modules\n"
                            "host = Host()\n"
                            "assert type(host.security).__name__ == 'HostSecurity', host.security")
    assert "airssys_wasm.security" in loaded
