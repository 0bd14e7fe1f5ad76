"""A griffe extension for the API reference: Sphinx cross-reference roles in docstrings
(``:func:`sleep```, ``:class:`~airssys_wasm.actor.Actor```) become Markdown code spans.

The source's docstrings are written for ``help()`` and Sphinx-aware editors; mkdocstrings
renders Markdown and would show the roles literally. ``~`` keeps only the last dotted part,
as in Sphinx. Loaded by mkdocs.yml (``extensions:`` of the python handler).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|data|exc|obj|const):`(~?)([^`]+)`")


def _code_span(match: re.Match[str]) -> str:
    target = match.group(2).strip()
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


class SphinxRolesToCode(griffe.Extension):
    """Rewrites every docstring griffe loads, before mkdocstrings renders it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ":`" in obj.docstring.value:
            obj.docstring.value = ROLE.sub(_code_span, obj.docstring.value)
