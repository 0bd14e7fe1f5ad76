"""WASI p2 settings of one component instance: its preopened directories.

A component that imports ``wasi:*`` gets a ``WasiConfig`` on its Store. It starts as the empty
sandbox — no directories, no environment, no argv, no stdio — because anything inherited from
the host process (its env holds secrets, its stdio is the operator's) would be a grant the
Component.toml schema has no key for. The only grant is directories: the security layer derives
them from the manifest's filesystem capabilities; this module turns them into wasmtime's config,
once per Store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import wasmtime

from airssys_wasm.errors import ConfigError

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

    def config(self) -> wasmtime.WasiConfig:
        """A fresh ``WasiConfig`` (wasmtime consumes it when set on a Store)."""
        cfg = wasmtime.WasiConfig()
        for p in self.preopens:
            cfg.preopen_dir(p.host_path, p.guest_path, p.mutable)
        return cfg


NO_WASI = WasiSettings()
