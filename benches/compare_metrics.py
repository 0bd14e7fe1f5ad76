"""What metrics add to the message path, next to the path; and what a scrape costs.

Run: `python benches/compare_metrics.py` (same as `airssys-wasm bench --suite metrics`).
"""

from airssys_wasm.cli.main import main

if __name__ == "__main__":
    main(["bench", "--suite", "metrics"])
