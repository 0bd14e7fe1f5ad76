"""The ``airssys-wasm`` command."""

from airssys_wasm.cli.main import main

__all__ = ["main"]
