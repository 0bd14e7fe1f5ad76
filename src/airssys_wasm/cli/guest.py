"""``airssys-wasm build`` and ``airssys-wasm new --lang python``: Python guests.

A build wires three things into componentize-py: the WIT package of the world the guest
targets (``write_world``: the smallest shipped world covering the lifecycle methods the guest's
``Component`` subclass defines, or ``--world``), the guest SDK (``airssys_wasm_guest``, pure
Python) and a generated entry module holding the ``ComponentLifecycle`` class componentize-py
looks for. The result is then compiled once into the compile cache, so the first spawn by a
host using that cache directory loads it in milliseconds instead of compiling for seconds.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airssys_wasm.cli.progress import step
from airssys_wasm.errors import BuildError
from airssys_wasm.runtime import Engine, EngineConfig, write_world
from airssys_wasm.runtime.world import WORLDS

__all__ = ["BuildResult", "build_guest", "choose_world", "new_python_project"]

COMPONENTIZE_PY = "componentize-py==0.25.1"

#: SDK method -> the lifecycle export it needs (handle_message is always exported).
_EXPORT_OF = {"handle_message": "handle-message", "execute": "execute", "init": "init",
              "shutdown": "shutdown", "health": "health", "handle_callback": "handle-callback"}
#: Class attributes that describe the component: defining one means exporting ``metadata``.
_METADATA_ATTRS = {"name", "version", "description", "operations"}
#: Component.toml capability tables -> the extension interface the world then imports.
_EXT_INTERFACES = {"filesystem": "airssys:ext-filesystem/filesystem@1.0.0",
                   "network": "airssys:ext-network/network@1.0.0",
                   "storage": "airssys:ext-storage/storage@1.0.0",
                   "process": "airssys:ext-process/process@1.0.0"}
_ENTRY = "airssys_guest_entry"
#: Extension interface -> the bindings module the entry imports (so the build keeps it).
_EXT_MODULES = {i: i.split("/")[1].split("@")[0] for i in _EXT_INTERFACES.values()}


@dataclass(frozen=True)
class BuildResult:
    """What ``build_guest`` produced."""

    output: Path
    world: str
    size: int
    extensions: tuple[str, ...]
    cache_dir: Path | None


def _component_class(tree: ast.Module, label: str) -> ast.ClassDef:
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)
               and any((isinstance(b, ast.Name) and b.id == "Component")
                       or (isinstance(b, ast.Attribute) and b.attr == "Component") for b in node.bases)]
    if len(classes) != 1:
        found = ", ".join(c.name for c in classes) or "none"
        raise BuildError(f"{label}: a guest module defines exactly one subclass of "
                         f"airssys_wasm_guest.Component (found: {found}); see "
                         "`airssys-wasm new NAME --lang python` for a skeleton")
    return classes[0]


def choose_world(source: str, label: str = "<guest>") -> str:
    """The smallest shipped world exporting every lifecycle function the guest's ``Component``
    subclass defines (``host.request`` needs ``handle-callback``, so the full world)."""
    try:
        tree = ast.parse(source, filename=label)
    except SyntaxError as exc:
        raise BuildError(f"{label}:{exc.lineno}: not valid Python: {exc.msg}") from None
    cls = _component_class(tree, label)
    methods = {node.name for node in cls.body
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    # With other bases a mixin may provide it; Component's abstract method still refuses then.
    if "handle_message" not in methods and len(cls.bases) == 1:
        raise BuildError(f"{label}:{cls.lineno}: class {cls.name} defines no handle_message; every "
                         "component must (def handle_message(self, sender, message): ...)")
    needed = {"handle-message"}
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in _EXPORT_OF:
            needed.add(_EXPORT_OF[node.name])
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id in _METADATA_ATTRS for t in targets):
            needed.add("metadata")
    if any(isinstance(n, ast.Attribute) and n.attr == "request" for n in ast.walk(tree)):
        needed.add("handle-callback")
    return next(name for name, funcs in WORLDS.items() if needed <= set(funcs))


def _extensions(guest: Path) -> tuple[str, ...]:
    """The extension interfaces the Component.toml next to the guest grants (none without one)."""
    manifest = guest.parent / "Component.toml"
    if not manifest.is_file():
        return ()
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"{manifest}: cannot read it ({exc}); `airssys-wasm validate "
                         f"{manifest}` shows every problem") from None
    caps = data.get("capabilities", {})
    return tuple(i for key, i in _EXT_INTERFACES.items() if isinstance(caps, dict) and key in caps)


def _componentize_command() -> list[str]:
    if importlib.util.find_spec("componentize_py") is None:
        raise BuildError("componentize-py is not installed, and it turns Python into a component: "
                         f"`pip install 'airssys-wasm[guest]'` (pins {COMPONENTIZE_PY})")
    return [sys.executable, "-c",
            "import sys; from componentize_py import script; sys.argv[0] = 'componentize-py'; "
            "sys.exit(script())"]


def _sdk_dir() -> Path:
    spec = importlib.util.find_spec("airssys_wasm_guest")
    if spec is None or spec.origin is None:
        raise BuildError("the guest SDK airssys_wasm_guest is missing from this installation; "
                         "reinstall airssys-wasm")
    return Path(spec.origin).parent


def build_guest(guest: Path, output: Path, *, world: str | None = None,
                cache_dir: Path | None = None, console: Any = None) -> BuildResult:
    """Build the Python guest module ``guest`` into the component ``output``, then compile it
    into ``cache_dir`` (None: do not precompile). BuildError when the build fails, LoadError
    when the host would refuse the built component. ``console``: where progress goes."""
    label = str(guest)
    try:
        source = guest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BuildError(f"cannot read the guest {label!r}: {getattr(exc, 'strerror', None) or exc}") from None
    module = guest.stem
    if not module.isidentifier() or module in (_ENTRY, "wit_world", "airssys_wasm_guest"):
        raise BuildError(f"{label}: the guest's file name must be a Python module name other than "
                         f"{_ENTRY}, wit_world and airssys_wasm_guest (rename the file)")
    chosen = choose_world(source, label)
    if world is None:
        world = chosen
    elif world not in WORLDS:
        raise BuildError(f"unknown world {world!r}; the shipped worlds are {', '.join(WORLDS)}")
    elif not set(WORLDS[chosen]) <= set(WORLDS[world]):
        missing = ", ".join(sorted(set(WORLDS[chosen]) - set(WORLDS[world])))
        raise BuildError(f"{label}: the guest needs {missing}, which the world {world} does not "
                         f"export; use --world {chosen} (or a larger one), or drop --world")
    extensions = _extensions(guest)
    command = _componentize_command()
    with tempfile.TemporaryDirectory(prefix="airssys-build-") as tmp:
        work = Path(tmp)
        wit = write_world(world, work / "wit", imports=extensions)
        app = work / "app"
        app.mkdir()
        shutil.copyfile(guest, app / guest.name)
        shutil.copytree(_sdk_dir(), app / "airssys_wasm_guest",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (app / f"{_ENTRY}.py").write_text(
            '"""Generated by airssys-wasm build: the export class componentize-py instantiates."""\n'
            + "".join(f"import wit_world.imports.{_EXT_MODULES[w]}\n" for w in extensions)
            + f"import {module} as _guest\n"
            "from airssys_wasm_guest import Exports, find_component\n\n\n"
            "class ComponentLifecycle(Exports):\n"
            "    app = find_component(vars(_guest))()\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}  # no site-packages
        output.parent.mkdir(parents=True, exist_ok=True)
        with _progress(console, f"componentize {guest.name} (world {world})"):
            proc = subprocess.run([*command, "-q", "-d", str(wit), "-w", world, "componentize", _ENTRY,
                                   "-p", str(app), "-o", str(output)],
                                  capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise BuildError(f"componentize-py failed to build {label} (exit {proc.returncode}):\n{detail}")
    if cache_dir is not None:
        size_mb = output.stat().st_size / 1e6
        with _progress(console, f"precompile {output.name} ({size_mb:.1f} MB) into {cache_dir}"):
            with Engine(EngineConfig(cache_dir=cache_dir)) as engine:
                engine.load(output)
    return BuildResult(output=output, world=world, size=output.stat().st_size,
                       extensions=extensions, cache_dir=cache_dir)


def _progress(console: Any, text: str) -> AbstractContextManager[None]:
    return nullcontext() if console is None else step(console, text)


_SKELETON = '''"""{name}: an airssys component in Python (build: `airssys-wasm build {module}.py -o {name}.wasm`)."""

from airssys_wasm_guest import Codec, Component, decode_value, encode_value, host


class {cls}(Component):
    """Counts the messages it gets and logs each one."""

    def __init__(self) -> None:
        self.seen = 0

    def handle_message(self, sender: str, message: bytes) -> None:
        self.seen += 1
        host.log(f"{{sender}} sent {{decode_value(message)!r}} (message {{self.seen}})")

    def execute(self, operation: bytes, request_id: str, caller: str | None) -> bytes:
        return encode_value(Codec.JSON, {{"seen": self.seen, "echo": decode_value(operation)}})
'''

_MANIFEST = '''[component]
name = "{name}"
version = "0.1.0"
description = "A Python component"

[limits]
memory = "64MiB"
timeout_ms = 5000
'''

_TEST = '''"""Build {name} and talk to it through a Host: `pytest test_{module}.py` (needs airssys-wasm[guest])."""

import asyncio
from pathlib import Path

from airssys_wasm import Host, multicodec as mc
from airssys_wasm.cli.guest import build_guest

HERE = Path(__file__).resolve().parent


def test_{module}_counts_messages(tmp_path: Path) -> None:
    wasm = build_guest(HERE / "{module}.py", tmp_path / "{name}.wasm").output

    async def main() -> dict:
        async with Host() as host:
            await host.spawn("{name}", wasm, manifest=HERE / "Component.toml")
            await host.send("{name}", mc.encode_value(mc.Codec.JSON, "hello"))
            reply = await host.request("{name}", mc.encode_value(mc.Codec.JSON, [1, 2]))
            return mc.decode_value(reply)

    assert asyncio.run(main()) == {{"seen": 1, "echo": [1, 2]}}
'''


def new_python_project(name: str, parent: Path) -> Path:
    """Write ``parent/name/``: a guest module, its Component.toml and a test. Refuses to touch
    an existing directory."""
    module = name.replace("-", "_")
    if not module.isidentifier() or not name.replace("-", "").isalnum():
        raise BuildError(f"{name!r} is not a usable component name: use letters, digits, '-' and '_'")
    directory = parent / name
    if directory.exists():
        raise BuildError(f"{directory} already exists; pick another name or remove it")
    cls = "".join(part.capitalize() for part in module.split("_")) or "App"
    directory.mkdir(parents=True)
    (directory / f"{module}.py").write_text(_SKELETON.format(name=name, module=module, cls=cls))
    (directory / "Component.toml").write_text(_MANIFEST.format(name=name))
    (directory / f"test_{module}.py").write_text(_TEST.format(name=name, module=module))
    return directory
