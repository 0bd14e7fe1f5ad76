"""WASI p2 settings of one component instance: preopened directories, env and stdio.

A component that imports ``wasi:*`` gets a ``WasiConfig`` on its Store. The default is the
empty sandbox — no directories, no environment, no argv, no stdio — because anything inherited
from the host process (its env holds secrets, its cwd is not the guest's business) is a grant.
Callers above (the security layer, from a manifest's filesystem capabilities) decide what goes
in; this module only turns that decision into wasmtime's config, once per Store.
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
    """What a WASI guest may see. Everything defaults to nothing."""

    preopens: tuple[Preopen, ...] = ()
    inherit_env: bool = False
    inherit_stdio: bool = False

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
        if self.inherit_env:
            cfg.inherit_env()
        if self.inherit_stdio:
            cfg.inherit_stdin()
            cfg.inherit_stdout()
            cfg.inherit_stderr()
        return cfg


NO_WASI = WasiSettings()
