"""Cost per message vs actors (10 to 10,000), per call vs payload size on each lane, and a
neighbour's latency vs busy guests.

Run: `python benches/compare_scaling.py` (same as `airssys-wasm bench --suite scaling`);
`airssys-wasm bench --plot DIR --suite scaling` draws the curves.
"""

from airssys_wasm.cli.main import main

if __name__ == "__main__":
    main(["bench", "--suite", "scaling"])
