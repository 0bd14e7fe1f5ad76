"""Every public callable of the native modules, called with hostile arguments: run as a child
process by ``test_hostile_calls.py``, so that a crash fails that test instead of the run.

Two passes: each module-level callable (classes included) with up to three arguments drawn
from values of the wrong type, size or sign; then every method and property of objects made
with ``Type.__new__`` (no ``__init__``: fields unset). Each call is written to the log file
first, so a crash names it. Prints the number of calls made.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import sys

MODULES = ("_router", "_mailbox", "_multicodec", "_metrics", "_fsbeneath", "_wasmtime")
VALUES = (None, 0, -1, 2 ** 70, -(2 ** 70), "", "x", b"", b"\x00" * 9, b"\xff" * 12,
          bytearray(b"\x55a"), memoryview(b"\x55a"), 1.5, float("nan"), object(), (), (1, 2),
          [], {}, True)
SKIP = {"EpochTicker"}  # starts a thread per instance; its arguments are checked in its tests


def main(log_path: str) -> None:
    log = open(log_path, "w", buffering=1)
    calls = 0

    def attempt(label: str, fn: object, args: tuple[object, ...]) -> object:
        nonlocal calls
        log.write(f"{label}{tuple(type(a).__name__ for a in args)}\n")
        calls += 1
        try:
            return fn(*args)  # type: ignore[operator]
        except Exception:
            return None

    for short in MODULES:
        module = importlib.import_module(f"airssys_wasm._fast.{short}")
        for name in sorted(dir(module)):
            obj = getattr(module, name)
            if name.startswith("_") or name in SKIP or not callable(obj):
                continue
            label = f"{short}.{name}"
            for arity in range(4):
                for args in itertools.islice(itertools.product(VALUES, repeat=arity), 400):
                    attempt(label, obj, args)
            if not inspect.isclass(obj) or issubclass(obj, BaseException):
                continue
            try:
                blank = obj.__new__(obj)
            except Exception:
                continue
            for attr in sorted(dir(blank)):
                if attr.startswith("__") and attr not in ("__call__", "__len__", "__iter__",
                                                          "__repr__", "__bool__"):
                    continue
                log.write(f"{label}.__new__().{attr}\n")
                try:
                    member = getattr(blank, attr)
                except Exception:
                    continue
                if callable(member):
                    for arity in range(3):
                        for args in itertools.islice(itertools.product(VALUES, repeat=arity), 60):
                            attempt(f"{label}.__new__().{attr}", member, args)
            del blank
    print(calls)


if __name__ == "__main__":
    main(sys.argv[1])
