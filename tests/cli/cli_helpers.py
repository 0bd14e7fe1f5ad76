"""Shared by the CLI tests: paths and a runner that never swallows a traceback."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from airssys_wasm import demo
from airssys_wasm.benchmarks import guests
from airssys_wasm.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
WAT = EXAMPLES / "wat"


def wat_file(name: str) -> Path:
    """Example component ``name``: the package's copy of what it ships, else examples/wat."""
    if name in demo.NAMES:
        return demo.path(name)
    return guests.path(name) if name in guests.NAMES else WAT / f"{name}.wat"


def invoke(*args: str) -> Result:
    """Run the command like a user would; a traceback in the output fails the test."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    if result.exit_code not in (0, 1, 2):
        raise AssertionError(f"exit code {result.exit_code}: {result.exception!r}\n{result.output}")
    return result


def run_example(name: str) -> Any:
    """Import ``examples/<name>.py`` as a module and return what its ``main()`` returns."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return asyncio.run(module.main())


#: A component with a WAT syntax error, and what the loader says about it (the path, not <anon>).
BROKEN_COMPONENT = "(component (oops))"


def broken_component_problem(where: str, path: Path) -> list[str]:
    """The lines of the problem ``{where}.source`` for BROKEN_COMPONENT written to ``path``."""
    return [f"  - {where}.source: {path}: invalid WAT text: expected valid component field",
            f"     --> {path}:1:13",
            "      |",
            f"    1 | {BROKEN_COMPONENT}",
            "      |             ^"]


def empty_file_message(path: Path) -> str:
    return (f"{path}: the file is empty (0 bytes); expected a WebAssembly binary (.wasm) or WAT "
            "text (.wat): rebuild it, or check it was written completely")
