"""The `airssys-wasm` command, driven through click's runner."""

from __future__ import annotations

from click.testing import CliRunner

import airssys_wasm
from airssys_wasm.cli import main


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and airssys_wasm.__version__ in result.output


def test_bench_markdown_prints_measured_ratios() -> None:
    result = CliRunner().invoke(main, ["bench", "--suite", "multicodec", "--quick", "--markdown"])
    assert result.exit_code == 0, result.output
    assert "| benchmark | ours | baseline | baseline time | speed-up |" in result.output
    rows = [line for line in result.output.splitlines() if line.startswith("| frame encode 64 B |")]
    assert {row.split("|")[3].strip() for row in rows} == {"py-multicodec", "multiformats"}
    assert all(row.rstrip(" |").endswith("x") for row in rows)  # a measured ratio, not "n/a"


def test_bench_rejects_unknown_suite_without_traceback() -> None:
    result = CliRunner().invoke(main, ["bench", "--suite", "nope"])
    assert result.exit_code == 2
    assert "Invalid value for '--suite'" in result.output and "Traceback" not in result.output
