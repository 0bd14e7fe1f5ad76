"""The host-functions example (examples/host_functions) runs and does what its guide says."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "host_functions" / "ledger.py"


def _module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("ledger_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_example_charges_refuses_and_reports_balances() -> None:
    example = _module()
    assert await example.main() == [("charged, new balance", 750, 750),
                                    ("refused, short by", 150, 100),
                                    ("refused, unknown account", 0, 0)]
    # only the successful charge got a receipt; the guest dropped it, so it was filed once
    assert example.Receipt.filed == [("alice", [("coffee", 250)])]


def test_example_runs_as_a_script() -> None:
    out = subprocess.run([sys.executable, str(EXAMPLE)], check=True, capture_output=True,
                         text=True, timeout=120).stdout
    assert out.splitlines() == ["alice: charged, new balance 750 (balance 750)",
                                "bob: refused, short by 150 (balance 100)",
                                "carol: refused, unknown account 0 (balance 0)",
                                "receipt for alice: coffee 250"]
