"""list<u8> per byte on the component lane vs the core-ABI lane, 16 B to 64 KiB, both ways.

Run: `python benches/compare_payload.py` (same as `airssys-wasm bench --suite payload`).
"""

from airssys_wasm.cli.main import main

if __name__ == "__main__":
    main(["bench", "--suite", "payload"])
