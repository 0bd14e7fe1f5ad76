"""`airssys-wasm bench`: every suite runs from the installed package and BENCHMARKS.md has its
section."""

from __future__ import annotations

import io
import re
import sys

import pytest
from rich.console import Console

from airssys_wasm.benchmarks import (
    SUITE_NAMES,
    Comparison,
    distribution,
    render_markdown,
    render_table,
    suite,
)
from cli_helpers import ROOT, invoke


def test_bench_markdown_section_for_a_suite() -> None:
    result = invoke("bench", "--compare", "--markdown", "--quick", "--suite", "runtime")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(f"## {suite('runtime').TITLE}\n")
    assert "`airssys-wasm bench --compare --markdown --suite runtime` — " in out
    rows = [line for line in out.splitlines() if line.startswith("| handle-message 16 B")]
    assert len(rows) == 2 and all(re.search(r"\| \d+\.\dx \|$", row) for row in rows)


@pytest.mark.parametrize("name", ["runtime", "host", "security", "startup", "payload"])
def test_ported_suites_measure_ours_and_the_baseline(name: str) -> None:
    rows = suite(name).run(repeat=1, min_seconds=0.001)
    assert rows and all(row.ours_ns > 0 for row in rows)
    compared = [row for row in rows if row.baseline_ns is not None and not row.target]
    assert compared and all(row.ratio is not None and row.ratio > 0 for row in compared)


def test_benchmarks_md_has_a_section_per_suite() -> None:
    text = (ROOT / "BENCHMARKS.md").read_text()
    for name in SUITE_NAMES:
        assert f"## {suite(name).TITLE}\n" in text, name
        assert f"`airssys-wasm bench --compare --markdown --suite {name}`" in text, name
    for merged in ("actor", "runtime", "host", "security"):  # their notes live in BENCHMARKS.md
        assert not (ROOT / "benches" / f"results-{merged}.md").exists()


def test_unknown_suite_name_in_python() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        suite("nope")


def test_missing_baselines_say_which_extra_brings_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("multicodec", "varint", "multiformats"):  # as if `[bench]` were not installed
        monkeypatch.setitem(sys.modules, module, None)
    result = invoke("bench", "--markdown", "--quick", "--suite", "multicodec")
    assert result.exit_code == 0, result.output
    assert re.search(r"^\| frame encode 64 B \| [^|]+ \| py-multicodec, multiformats not installed: "
                     r"pip install '\.\[bench\]' \| n/a \| n/a \|$", result.output, re.M), result.output
    assert re.search(r"^\| varint encode 300 \| [^|]+ \| varint not installed: pip install "
                     r"'\.\[bench\]' \| n/a \| n/a \|$", result.output, re.M), result.output


@pytest.mark.parametrize("row, verdict", [
    (Comparison("a", 100.0, "b", 250.0), "2.5x"),
    (Comparison("a", 30e3, "b", 1e3), "0.033x"),  # 30x slower: not "0.0x"
    (Comparison("p99", 1.5e6, "target 2 ms", 2e6, target=True), "met"),
    (Comparison("p99", 6.3e6, "target 3 ms", 3e6, target=True), "missed"),
    (Comparison("alone", 10.0, "-", None), "n/a"),
])
def test_last_column_is_a_ratio_only_for_a_comparison(row: Comparison, verdict: str) -> None:
    assert row.verdict == verdict
    assert render_markdown([row]).endswith(f"| {verdict} |")
    if row.target:
        assert row.ratio is None


def test_bench_table_is_not_cut_at_80_columns() -> None:
    rows = [Comparison("neighbour request while a guest waits on a slow child process", 31.2e3,
                       "same request, idle host", 29.5e3),
            Comparison("sibling request beside 4 spinning guests: p99 (57 requests)", 6.26e6,
                       "target 3 ms", 3e6, target=True)]
    console = Console(file=io.StringIO(), width=80)
    console.print(render_table(rows, "suspend"))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "…" not in text
    for figure in ("31.20 µs", "29.50 µs", "0.9x", "6.26 ms", "3.00 ms", "missed"):
        assert figure in text, figure


def test_distribution_matches_a_sorted_reference_on_generated_samples() -> None:
    # numpy's linear-interpolation percentiles against a hand-computed reference (statistics'
    # "inclusive" quantiles use the same definition), on skewed samples with a long tail.
    import random
    import statistics

    rng = random.Random(7)
    for size in (1, 2, 3, 10, 101, 1000):
        samples = [rng.lognormvariate(7.0, 1.2) for _ in range(size)]
        d = distribution(samples)
        assert d.n == size and d.max == max(samples)
        assert d.mean == pytest.approx(statistics.fmean(samples))
        if size >= 2:
            cuts = statistics.quantiles(samples, n=100, method="inclusive")
            assert d.p50 == pytest.approx(cuts[49]) and d.p99 == pytest.approx(cuts[98])
        assert min(samples) <= d.p50 <= d.p99 <= d.max
    with pytest.raises(ValueError, match="at least one sample"):
        distribution([])
