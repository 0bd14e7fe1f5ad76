"""Tests of the Cython fast path (a package: its module names repeat elsewhere in tests/)."""
