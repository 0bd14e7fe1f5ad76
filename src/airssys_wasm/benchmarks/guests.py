"""The guest components the runtime and host suites measure, shipped in ``guests/`` as
WebAssembly text so ``airssys-wasm bench`` runs from an installed wheel (``examples/`` is not
installed). Copies of ``examples/wat/``, kept in sync by ``examples/wat/build.py``:

- ``echo``: every lifecycle export and every host-services import
- ``minimal``: only ``handle-message``
- ``pingpong``: talks to other components through host-services (component -> component)
- ``core_actor``: a core-ABI lane module
- ``ext-net``, ``ext-proc``, ``ext-store``: probes of the ext interfaces (the suspend suite
  blocks them on a silent peer, a slow child, a locked database)

``padded`` makes any of these text components slow to compile (the tests of what runs while a
big guest compiles).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["NAMES", "padded", "path", "text"]

NAMES = ("echo", "minimal", "pingpong", "core_actor", "ext-net", "ext-proc", "ext-store")


def path(name: str) -> Path:
    """Filesystem path of the bundled guest ``name`` (a ``.wat`` file)."""
    if name not in NAMES:
        raise ValueError(f"no benchmark guest named {name!r}; choose one of {', '.join(NAMES)}")
    return Path(str(resources.files("airssys_wasm.benchmarks").joinpath("guests", f"{name}.wat")))


def text(name: str) -> str:
    """WAT text of the bundled guest ``name``."""
    return path(name).read_text(encoding="utf-8")


def padded(source: Path, functions: int) -> bytes:
    """The binary of the text component at ``source`` with ``functions`` unused functions
    added to the end of its first core module: the same behaviour, and about 0.45 ms of
    Cranelift per function on a 2-core box (a stand-in for an 18 MB guest's compile)."""
    import wasmtime

    text = source.read_text(encoding="utf-8")
    at = text.index("    (@producers")  # the end of the first core module: indices before stay
    pad = "".join(
        "    (func (param i32) (result i32)\n" + "".join(
            f"      local.get 0\n      i32.const {k * 7 + j}\n      i32.mul\n      local.set 0\n"
            for j in range(40)) + "      local.get 0)\n" for k in range(functions))
    return bytes(wasmtime.wat2wasm(text[:at] + pad + text[at:]))
