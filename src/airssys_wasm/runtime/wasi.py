"""WASI p2 settings of one component instance: its preopened directories.

A component that imports ``wasi:*`` gets a ``WasiConfig`` on its Store. It starts as the empty
sandbox — no directories, no environment, no argv, no stdio — because anything inherited from
the host process (its env holds secrets, its stdio is the operator's) would be a grant the
Component.toml schema has no key for. The only grant is directories: the security layer derives
them from the manifest's filesystem capabilities; this module turns them into wasmtime's config,
once per Store.

wasmtime opens a preopened directory by its path, following symlinks: a directory swapped for a
symlink at that moment would expose whatever it points to. So each directory is first opened
here with no symlink in any component (``_fast._fsbeneath.open_root``), and wasmtime is handed
``/proc/self/fd/N`` of that descriptor, which names exactly the directory that was opened.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import wasmtime

from airssys_wasm._fast import _fsbeneath
from airssys_wasm.errors import ConfigError, PermissionDenied

__all__ = ["NO_WASI", "Preopen", "WasiSettings"]


@dataclass(frozen=True, slots=True)
class Preopen:
    """``host_path`` appears to the guest as ``guest_path``; writable only when ``mutable``."""

    host_path: str
    guest_path: str
    mutable: bool = False


@dataclass(frozen=True, slots=True)
class WasiSettings:
    """What a WASI guest may see: these directories, nothing else."""

    preopens: tuple[Preopen, ...] = ()

    def __post_init__(self) -> None:
        for p in self.preopens:
            if not isinstance(p, Preopen):
                raise ConfigError(f"WasiSettings.preopens must hold runtime.wasi.Preopen, not "
                                  f"{type(p).__name__}")
            if not os.path.isabs(p.host_path) or not os.path.isdir(p.host_path):
                raise ConfigError(f"preopen {p.host_path!r} is not an existing absolute directory; "
                                  "create it or remove the filesystem grant that names it")

    @contextmanager
    def config(self) -> Iterator[wasmtime.WasiConfig]:
        """A fresh ``WasiConfig`` (wasmtime consumes it when set on a Store), its directories
        opened race-free; use it inside the ``with`` block (the descriptors close after it).

        PermissionDenied when a directory cannot be opened without following a symlink (it
        was swapped for one) or is gone."""
        fds: list[int] = []
        try:
            cfg = wasmtime.WasiConfig()
            for p in self.preopens:
                try:
                    fd = _fsbeneath.open_root(p.host_path)
                except OSError as exc:
                    raise PermissionDenied(
                        f"WASI preopen {p.host_path!r} cannot be opened without following a "
                        f"symlink ({exc.strerror or exc}); it was replaced or removed — restore "
                        "the real directory or change the filesystem grant") from None
                fds.append(fd)
                cfg.preopen_dir(f"/proc/self/fd/{fd}", p.guest_path, p.mutable)
            yield cfg
        finally:
            for fd in fds:
                os.close(fd)


NO_WASI = WasiSettings()
