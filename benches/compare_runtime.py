"""The airssys runtime vs bare wasmtime-py: compile, cache load, instantiate, one call.

Run: `python benches/compare_runtime.py [--markdown] [--quick]` (same as
`airssys-wasm bench --suite runtime`); the suite lives in `airssys_wasm.benchmarks.runtime`.
"""

import sys

from airssys_wasm.cli.main import main

if __name__ == "__main__":
    main(["bench", "--suite", "runtime", *sys.argv[1:]])
