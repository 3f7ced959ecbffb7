"""Fuzz targets, one per parser of untrusted bytes, for atheris (libFuzzer's engine in Python).

Each module here is one target: ``check(data)`` feeds the bytes to a parser the way the
command that reads them does, and ``seeds()`` gives the valid inputs it starts from (files
of this repository: the example registry, ``tests/data/valid``, the example store). The
contract every target holds the parser to (:func:`tests.fuzz.harness.guarded`): for any
input it returns (a value, or findings) or raises :class:`~adapterctl.errors.AdapterctlError`
with a message for the user; any other exception — a ``KeyError``, a ``RecursionError``, a
pydantic ``ValidationError`` escaping, a warning (they are errors, as in pytest) — is a crash.

They live under ``tests/`` because they are tests: mypy strict and ruff check them with the
rest, ``tests/test_fuzz.py`` runs each briefly on every ``make test`` (``-runs`` with a fixed
``-seed``) and replays every crash ever found, kept in ``tests/data/fuzz/<target>/``, and
``make fuzz`` runs them longer: ``python -m tests.fuzz TARGET [libFuzzer flags]``
(docs/fuzzing.md).
"""
