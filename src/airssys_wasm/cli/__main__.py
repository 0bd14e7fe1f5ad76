"""``python -m airssys_wasm.cli`` = the ``airssys-wasm`` command."""

from airssys_wasm.cli.main import main

main(prog_name="airssys-wasm")
