"""Every script under examples/ runs to completion: each guide of the documentation includes its
example verbatim (pymdownx.snippets), so the code readers copy is the code this test runs. The
scripts assert their own outcome; a non-zero exit (an assertion, a traceback) fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def test_there_are_examples_for_the_guides() -> None:
    names = {path.stem for path in EXAMPLES}
    assert {"quickstart", "pubsub", "storage", "filesystem", "network", "process",
            "audit_and_trust", "cache_dir", "core_abi_lane", "supervision", "upgrade",
            "limits"} <= names


@pytest.mark.parametrize("script", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs_and_checks_itself(script: Path, tmp_path: Path) -> None:
    # A fresh interpreter in a scratch directory: no state shared with the test process, and
    # nothing the example might write lands in the repository.
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{script.name} failed:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip(), f"{script.name} printed nothing: an example shows its outcome"
