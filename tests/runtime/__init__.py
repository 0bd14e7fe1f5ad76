"""Tests of the runtime layer (a package: its module names repeat elsewhere in tests/)."""
