"""Messages into components: Host.send vs direct wasmtime-py, Pykka and the bare runtime; c2c, router, spawn.

Run: `python benches/compare_host.py [--markdown] [--quick]` (same as
`airssys-wasm bench --suite host`); the suite lives in `airssys_wasm.benchmarks.host`.
"""

import sys

from airssys_wasm.cli.main import main

if __name__ == "__main__":
    main(["bench", "--suite", "host", *sys.argv[1:]])
