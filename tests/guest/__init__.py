"""Tests of the Python guest SDK and built Python guests (a package: its module names repeat elsewhere in tests/)."""
