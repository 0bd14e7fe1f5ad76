"""Fresh processes: ``import airssys_wasm`` and ``airssys-wasm --help`` vs ``import wasmtime``.

Run: `python benches/compare_startup.py` (same as `airssys-wasm bench --suite startup`).
"""

from airssys_wasm.cli.main import main

if __name__ == "__main__":
    main(["bench", "--suite", "startup"])
