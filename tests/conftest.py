"""Session-wide test environment."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from airssys_wasm.runtime.cache import CACHE_DIR_ENV


@pytest.fixture(autouse=True, scope="session")
def _private_cli_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The CLI compiles through a default cache in ~/.cache; tests (and the CLI processes they
    start, which inherit the environment) use a directory of their own instead."""
    previous = os.environ.get(CACHE_DIR_ENV)
    os.environ[CACHE_DIR_ENV] = str(tmp_path_factory.mktemp("cli-cache"))
    yield
    if previous is None:
        os.environ.pop(CACHE_DIR_ENV, None)
    else:
        os.environ[CACHE_DIR_ENV] = previous
