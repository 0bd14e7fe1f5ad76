"""The guest components the runtime and host suites measure, shipped in ``guests/`` as
WebAssembly text so ``airssys-wasm bench`` runs from an installed wheel (``examples/`` is not
installed). Copies of ``examples/wat/``, kept in sync by ``examples/wat/build.py``:

- ``echo``: every lifecycle export and every host-services import
- ``minimal``: only ``handle-message``
- ``pingpong``: talks to other components through host-services (component -> component)
- ``core_actor``: a core-ABI lane module
- ``ext-net``, ``ext-proc``, ``ext-store``: probes of the ext interfaces (the suspend suite
  blocks them on a silent peer, a slow child, a locked database)
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["NAMES", "path", "text"]

NAMES = ("echo", "minimal", "pingpong", "core_actor", "ext-net", "ext-proc", "ext-store")


def path(name: str) -> Path:
    """Filesystem path of the bundled guest ``name`` (a ``.wat`` file)."""
    if name not in NAMES:
        raise ValueError(f"no benchmark guest named {name!r}; choose one of {', '.join(NAMES)}")
    return Path(str(resources.files("airssys_wasm.benchmarks").joinpath("guests", f"{name}.wat")))


def text(name: str) -> str:
    """WAT text of the bundled guest ``name``."""
    return path(name).read_text(encoding="utf-8")

