"""Side by side in one process: our actors vs a plain asyncio.Queue consumer vs Pykka.

Run: `python benches/compare_actor.py` (same as `airssys-wasm bench --suite actor`).
"""

from airssys_wasm.cli.main import main

if __name__ == "__main__":
    main(["bench", "--suite", "actor"])
