"""Side by side in one process: our framing vs py-multicodec and multiformats.

Run: `python benches/compare_multicodec.py` (same as `airssys-wasm bench --suite multicodec`).
"""

from airssys_wasm.cli.main import main

if __name__ == "__main__":
    main(["bench", "--suite", "multicodec"])
