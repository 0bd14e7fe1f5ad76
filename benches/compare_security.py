"""Capability checks side by side: our precompiled matchers vs naive fnmatch loops.

Run: `python benches/compare_security.py [--markdown] [--quick]` (same as
`airssys-wasm bench --suite security`); the suite lives in `airssys_wasm.benchmarks.security`.
"""

import sys

from airssys_wasm.cli.main import main

if __name__ == "__main__":
    main(["bench", "--suite", "security", *sys.argv[1:]])
