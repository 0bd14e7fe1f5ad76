"""Session-wide test environment."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from airssys_wasm.runtime.cache import CACHE_DIR_ENV

# The property tests check correctness, not speed (speed is proven in benches/): on a shared
# 2-core box a slow example under load broke hypothesis' 200 ms per-example deadline once
# (tests/guest/test_guest_multicodec.py), a flake that says nothing about the code.
settings.register_profile("airssys", deadline=None)
settings.load_profile("airssys")


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
