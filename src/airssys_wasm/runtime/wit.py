"""Where the WIT packages are: inside the installed package, or at the source tree's root."""

from __future__ import annotations

from pathlib import Path

__all__ = ["wit_dir"]


def wit_dir() -> Path:
    """Directory holding the airssys:core@1.0.0 and extension WIT packages.

    Wheels ship it as ``airssys_wasm/wit``; a source checkout has it at ``<repo>/wit``.
    """
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "wit", package.parent.parent / "wit"):
        if (candidate / "world.wit").is_file():
            return candidate
    raise FileNotFoundError("the airssys WIT packages are missing from this installation; "
                            "reinstall airssys-wasm")
