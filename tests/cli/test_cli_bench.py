"""`airssys-wasm bench`: every suite runs from the installed package and BENCHMARKS.md has its
section."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from rich.console import Console

from airssys_wasm.benchmarks import (
    SUITE_NAMES,
    Comparison,
    Curve,
    distribution,
    render_markdown,
    render_table,
    suite,
)
from airssys_wasm.benchmarks.timing import plot_curve, render_curve_markdown
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


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Two series on a log-log axis, the second missing a point (its table cell reads n/a).
PAYLOAD = Curve("lanes", "Cost per call vs payload size", "payload", "per call",
                {"component": [(16.0, 4e3), (1024.0, 80e3), (65536.0, 5e6)],
                 "core": [(16.0, 2.5e3), (65536.0, 6.5e3)]},
                log_x=True, log_y=True, x_unit="bytes")
ACTORS = Curve("actors", "Cost per message vs actors", "actors", "per message",
               {"p50": [(10.0, 4.8e3), (1000.0, 36e3)], "p99": [(10.0, 11e3), (1000.0, 38e3)]},
               log_x=True)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", path
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_plot_curve_draws_every_series_into_a_png(tmp_path: Path) -> None:
    import numpy as np
    from matplotlib.image import imread

    plotted = plot_curve(PAYLOAD, tmp_path / "new")  # the directory is created
    assert plotted.path == tmp_path / "new" / "lanes.png"
    width, height = _png_size(plotted.path)
    assert width > 300 and height > 200
    # What matplotlib drew, read back from its lines, is the curve in the axis unit (ms here).
    assert plotted.unit == "ms"
    assert plotted.lines == {label: [(x, y / 1e6) for x, y in points]
                             for label, points in PAYLOAD.series.items()}
    pixels = imread(plotted.path)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 10  # not a blank image


def test_curve_table_has_a_row_per_x_and_a_column_per_series() -> None:
    assert render_curve_markdown(PAYLOAD) == (
        "| payload | component | core |\n"
        "|---|---|---|\n"
        "| 16 B | 4.00 µs | 2.50 µs |\n"
        "| 1 KiB | 80.00 µs | n/a |\n"
        "| 64 KiB | 5.00 ms | 6.50 µs |")
    assert render_curve_markdown(ACTORS).splitlines()[-1] == "| 1,000 | 36.00 µs | 38.00 µs |"


def _fake_curves(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The scaling suite's curves() replaced by two fixed curves (the real one measures for
    seconds; benches/test_bench_scaling.py smoke-runs it); returns a list that records calls."""
    calls: list[bool] = []

    def curves(*, quick: bool) -> list[Curve]:
        calls.append(quick)
        return [ACTORS, PAYLOAD]

    monkeypatch.setattr(suite("scaling"), "curves", curves)
    return calls


def test_bench_plot_writes_a_png_per_curve_and_skips_suites_without_curves(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_curves(monkeypatch)

    def no_rows(**_: object) -> None:
        raise AssertionError("--plot must not run a suite's rows")

    monkeypatch.setattr(suite("runtime"), "run", no_rows)
    monkeypatch.setattr(suite("scaling"), "run", no_rows)
    result = invoke("bench", "--plot", tmp_path, "--quick", "--suite", "runtime", "--suite", "scaling")
    assert result.exit_code == 0, result.output
    assert calls == [True]
    assert result.output.splitlines() == [str(tmp_path / "actors.png"), str(tmp_path / "lanes.png")]
    for name in ("actors", "lanes"):
        assert _png_size(tmp_path / f"{name}.png")[0] > 300


def test_bench_plot_markdown_prints_each_curve_with_its_image_and_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_curves(monkeypatch)
    result = invoke("bench", "--plot", tmp_path, "--markdown", "--suite", "scaling")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(f"## {suite('scaling').TITLE}: curves\n\n`airssys-wasm bench --plot "
                          f"{tmp_path} --markdown --suite scaling` — ")
    assert f"### {PAYLOAD.title}\n\n![{PAYLOAD.title}]({(tmp_path / 'lanes.png').as_posix()})\n\n" \
           + render_curve_markdown(PAYLOAD) in out
    assert render_curve_markdown(ACTORS) in out
    assert (tmp_path / "actors.png").read_bytes()[:8] == PNG_SIGNATURE


def test_bench_plot_of_suites_without_curves_names_the_ones_with(tmp_path: Path) -> None:
    result = invoke("bench", "--plot", tmp_path, "--suite", "runtime")
    assert result.exit_code == 1
    assert "none of the selected suites (runtime) measures curves" in result.output
    assert "the ones that do: scaling" in result.output
    assert list(tmp_path.iterdir()) == []


def test_bench_plot_without_matplotlib_names_the_extra(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_curves(monkeypatch)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if `[bench]` were not installed
    result = invoke("bench", "--plot", tmp_path / "plots", "--suite", "scaling")
    assert result.exit_code == 1
    assert "Error: bench --plot draws with matplotlib and numpy, and matplotlib is not installed: " \
           "pip install 'airssys-wasm[bench]'" in result.output
    assert calls == [] and not (tmp_path / "plots").exists()  # nothing measured, nothing written
