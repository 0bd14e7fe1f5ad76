"""A griffe extension for the API reference, so it shows what the source says:

- Sphinx cross-reference roles in docstrings (``:func:`sleep```,
  ``:class:`~airssys_wasm.actor.Actor```) become Markdown code spans. The docstrings are
  written for ``help()`` and Sphinx-aware editors; mkdocstrings renders Markdown and would show
  the roles literally. ``~`` keeps only the last dotted part, as in Sphinx.
- An attribute without a docstring takes its ``#:`` comment lines (the Sphinx autodoc
  convention the dataclasses here use for their fields, e.g. ``HostConfig``), so those
  comments reach the reference instead of staying in the source.

Loaded by mkdocs.yml (``extensions:`` of the python handler) and by tests/docs.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|data|exc|obj|const):`(~?)([^`]+)`")
DOC_COMMENT = re.compile(r"^\s*#:\s?(.*)$")


def _code_span(match: re.Match[str]) -> str:
    target = match.group(2).strip()
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


def _doc_comment(obj: griffe.Object) -> str | None:
    """The ``#:`` lines right above ``obj``'s first line, joined; None if there are none."""
    if obj.lineno is None or obj.filepath is None or isinstance(obj.filepath, list):
        return None
    lines = dict(obj.lines_collection.items()).get(obj.filepath) or []
    found: list[str] = []
    index = obj.lineno - 2
    while 0 <= index < len(lines):
        match = DOC_COMMENT.match(lines[index])
        if match is None:
            break
        found.insert(0, match.group(1))
        index -= 1
    return "\n".join(found).strip() or None


class SourceDocs(griffe.Extension):
    """Rewrites roles in every docstring and fills attribute docstrings from ``#:`` comments."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is None and obj.is_attribute:
            comment = _doc_comment(obj)
            if comment is not None:
                obj.docstring = griffe.Docstring(comment, parent=obj)
        if obj.docstring is not None and ":`" in obj.docstring.value:
            obj.docstring.value = ROLE.sub(_code_span, obj.docstring.value)
