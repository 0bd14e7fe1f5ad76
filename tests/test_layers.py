"""Architecture check: a module imports only from layers below it (docs/architecture.md).

`errors`, `types`, `_lazy` (PEP 562 lazy exports) and `_files` (opening user-named files)
sit below everything; `multicodec` is the
public face of `_fast`; the package root and the benchmark/CLI tooling sit on top. Same-layer imports are allowed inside one package.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import airssys_wasm

LAYERS: dict[str, float] = {
    "errors": 0, "types": 0, "_lazy": 0, "_files": 0,
    "_fast": 1, "multicodec": 1,
    "runtime": 2,
    "actor": 3,
    "host": 4,
    "security": 5,
    "lattice": 6,
    # The tooling on top of the library layers (SPEC.md numbers those 1-7): it may measure
    # and show any of them, the lattice included.
    "benchmarks": 6.5, "demo": 6.5, "metrics": 6.5,
    "cli": 7,
}
ROOT = Path(airssys_wasm.__file__).parent
CYTHON_IMPORT = re.compile(r"^\s*(?:from|c?import)\s+(airssys_wasm(?:\.\w+)*)", re.MULTILINE)


def _imported_modules(path: Path) -> list[str]:
    if path.suffix in (".pyx", ".pxi", ".pxd"):
        return CYTHON_IMPORT.findall(path.read_text())
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("airssys_wasm"):
            if node.module == "airssys_wasm":
                found += [f"airssys_wasm.{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("airssys_wasm")]
    return found


def test_every_module_imports_only_from_lower_layers() -> None:
    violations = []
    checked = 0
    for path in sorted(ROOT.rglob("*")):
        if path.suffix not in (".py", ".pyx", ".pxi", ".pxd") or path == ROOT / "__init__.py":
            continue
        own = path.relative_to(ROOT).parts[0].removesuffix(path.suffix)
        assert own in LAYERS, f"{path} is in no layer; add its package to LAYERS"
        checked += 1
        for module in _imported_modules(path):
            parts = module.split(".")
            target = parts[1] if len(parts) > 1 else ""
            if module == "airssys_wasm":  # `import airssys_wasm`: only the top tooling may
                if LAYERS[own] < LAYERS["benchmarks"]:
                    violations.append(f"{path.relative_to(ROOT)} imports the package root")
            elif target not in LAYERS:
                violations.append(f"{path.relative_to(ROOT)} imports unknown {module}")
            elif LAYERS[target] > LAYERS[own] or (LAYERS[target] == LAYERS[own] and target != own
                                                   and LAYERS[own] not in (0, 1)):
                violations.append(f"{path.relative_to(ROOT)} (layer {own}) imports {module}")
    assert checked > 30
    assert not violations, "\n".join(violations)


PRIVATE_WASMTIME = re.compile(
    r"wasmtime\._\w|from wasmtime import _\w|(?<!self)\._(?:func|memory|global)\b|_context\(\)"
    r"|_Store__|_from_ptr")


def test_wasmtime_private_attributes_are_touched_in_one_module_only() -> None:
    """DEVELOPERS.md: access to wasmtime-py's private attributes lives in ONE module."""
    users = sorted(
        str(path.relative_to(ROOT)) for path in ROOT.rglob("*")
        if path.suffix in (".py", ".pyx", ".pxi") and PRIVATE_WASMTIME.search(path.read_text()))
    assert users == ["_fast/handles.py"]
