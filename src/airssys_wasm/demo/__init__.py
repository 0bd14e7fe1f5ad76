"""The components of ``airssys-wasm demo``, shipped inside the package as WebAssembly text.

``examples/`` is not installed, yet the demo must run on any machine that ran ``pip install``.
The ``.wat`` files here are copies of ``examples/wat/`` kept in sync by
``examples/wat/build.py`` (``--check`` fails when they drift):

- ``stage``: pipeline stage (forward / upper-case + forward / count; can trap on a poison payload)
- ``counter``: counts messages; ``execute("cnt?")`` reports them
- ``crasher``: traps on command (unreachable, out of bounds, endless loop) or refuses a message

The scenario itself (what runs, what is shown) lives in ``airssys_wasm.cli.demo``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["NAMES", "path", "text"]

NAMES = ("stage", "counter", "crasher")


def path(name: str) -> Path:
    """Filesystem path of the bundled component ``name`` (a ``.wat`` file)."""
    if name not in NAMES:
        raise ValueError(f"no demo component named {name!r}; choose one of {', '.join(NAMES)}")
    return Path(str(resources.files(__name__).joinpath(f"{name}.wat")))


def text(name: str) -> str:
    """WAT text of the bundled component ``name``."""
    return path(name).read_text(encoding="utf-8")
