"""PEP 562 lazy exports: a package's public names are imported on first use, not on import.

``import airssys_wasm`` used to pull in wasmtime, asyncio, the codecs, the metrics exporters
and the WIT parser (~160-300 ms) just to offer names most programs and every
``airssys-wasm --help`` never touch. A package built with :func:`lazy_exports` keeps its
``__all__`` and its ``if TYPE_CHECKING:`` imports (what type checkers and the docs read) and
resolves a name the first time it is read, then caches it in the package, so later reads are
plain attribute reads. Sits below every layer: it imports nothing from the package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, Iterable[str]], *,
                 submodules: Iterable[str] = ()) -> tuple[Callable[[str], object],
                                                          Callable[[], list[str]]]:
    """The ``(__getattr__, __dir__)`` pair of ``package``.

    ``exports`` maps a defining module to the names it gives ``package``; ``submodules`` are
    child modules reachable as attributes without an explicit import (``airssys_wasm.security``
    worked after ``import airssys_wasm`` when the root imported it eagerly, and still does).
    """
    home = {name: module for module, names in exports.items() for name in names}
    children = frozenset(submodules)

    def __getattr__(name: str) -> object:
        module = home.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
        elif name in children:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | home.keys() | children)

    return __getattr__, __dir__
