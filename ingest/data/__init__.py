"""Package data for :mod:`ingest` (word lists used by the Italian normalizer).

A package (not a bare folder) so that setuptools' ``package-data`` globs ship the files
and :mod:`importlib.resources` can find them in an installed wheel.
"""
