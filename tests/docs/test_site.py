"""The documentation site builds in strict mode, and strict mode really catches what it must.

``mkdocs build --strict`` turns every warning into a failure: a link to a missing page or
anchor, an unresolved API cross-reference, a snippet (an included example) that does not
exist, a ``:::`` directive naming an object that does not exist. The site goes to a temporary
directory, never into the repository. (A full strict build takes about 3 s on a 2-core box.)
"""

from __future__ import annotations

import importlib
import re
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_docstrings import PUBLIC_MODULES  # noqa: E402


def build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    # cwd is the project: the snippet base path ("examples/...") and mkdocstrings' src path
    # are relative to it.
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(project / "mkdocs.yml"),
         "-d", str(site)], cwd=project, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT, out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _inventory(site: Path) -> set[str]:
    raw = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):  # four text lines, then the zlib-compressed entries
        header_end = raw.index(b"\n", header_end) + 1
    entries = zlib.decompress(raw[header_end:]).decode().splitlines()
    return {line.split(" ", 1)[0] for line in entries}


def test_every_page_of_the_nav_is_built(site: Path) -> None:
    import yaml  # a dependency of mkdocs

    class Loader(yaml.SafeLoader):
        pass
    Loader.add_multi_constructor("", lambda loader, suffix, node: None)  # !!python/name tags
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)

    def pages(nav: object) -> list[str]:
        if isinstance(nav, str):
            return [nav]
        if isinstance(nav, list):
            return [p for item in nav for p in pages(item)]
        if isinstance(nav, dict):
            return [p for value in nav.values() for p in pages(value)]
        return []
    listed = pages(config["nav"])
    assert len(listed) >= 25
    for page in listed:
        stem = page.removesuffix(".md")
        html = site / (f"{stem}.html" if stem.endswith("index") else f"{stem}/index.html")
        assert html.is_file(), page


def test_the_guides_show_the_examples_ci_runs(site: Path) -> None:
    # The snippet is expanded at build time: the page holds the example's own text.
    text = (site / "guides" / "messaging" / "index.html").read_text()
    assert "nobody-listens" in text and "--8&lt;--" not in text and "--8<--" not in text
    assert "cnt?" in text


def test_the_api_reference_has_every_public_name(site: Path) -> None:
    inventory = _inventory(site)
    missing = []
    for module_path in PUBLIC_MODULES:
        module = importlib.import_module(module_path)
        for name in module.__all__:
            if name.startswith("__"):
                continue
            if module_path == "airssys_wasm":  # re-exports: documented where they are defined
                if not any(entry.endswith(f".{name}") for entry in inventory):
                    missing.append(name)
            elif f"{module_path}.{name}" not in inventory:
                missing.append(f"{module_path}.{name}")
    assert not missing, f"not in the API reference: {missing}"
    assert "airssys_wasm.host.Host.dead_letters" in inventory


def test_the_cli_reference_documents_every_command(site: Path) -> None:
    from airssys_wasm.cli.main import main
    text = (site / "cli" / "index.html").read_text()
    for command in main.commands:
        assert f"airssys-wasm {command}" in text, command


def _project_copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", project / "docs")
    for shared in ("src", "examples"):
        (project / shared).symlink_to(ROOT / shared)
    return project


def test_strict_build_fails_on_broken_links_anchors_and_references(tmp_path: Path) -> None:
    project = _project_copy(tmp_path)
    page = project / "docs" / "otp.md"
    page.write_text(page.read_text() + "\n".join([
        "", "[a missing page](no-such-page.md)",
        "[a missing anchor](security.md#no-such-section)",
        "[a missing API name][airssys_wasm.host.Host.no_such_method]", ""]))
    result = build(project, tmp_path / "site")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for broken in ("no-such-page.md", "no-such-section", "no_such_method"):
        assert broken in output, f"{broken} was not reported:\n{output}"


@pytest.mark.parametrize("broken, name", [
    ('```python\n--8<-- "examples/no_such_example.py"\n```\n', "no_such_example.py"),
    ("::: airssys_wasm.NoSuchThing\n", "NoSuchThing"),
], ids=["missing-example-snippet", "missing-api-object"])
def test_strict_build_fails_on_a_missing_snippet_or_api_object(
        tmp_path: Path, broken: str, name: str) -> None:
    project = _project_copy(tmp_path)
    (project / "docs" / "api" / "types.md").write_text("# x\n\n" + broken)
    result = build(project, tmp_path / "site")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and name in output, output


def test_no_sphinx_role_is_shown_literally(site: Path) -> None:
    # docs/hooks/griffe_docs.py turns :func:`x` in docstrings into code spans.
    shown = [str(page.relative_to(site)) for page in site.rglob("*.html")
             if re.search(r":(?:func|class|meth|attr|mod|exc):`", page.read_text())]
    assert not shown, shown
