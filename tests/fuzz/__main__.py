"""``python -m tests.fuzz TARGET [--corpus DIR] [libFuzzer flags]``: fuzz one target
(``--list``: the targets; ``TARGET FILE...`` replays inputs).

The working corpus (``.fuzz/TARGET/corpus`` unless ``--corpus``) gets the target's seeds and
keeps what libFuzzer finds between runs; the target's regression cases
(``tests/data/fuzz/TARGET/``) are read too but never written. A crash is written to
``.fuzz/TARGET/`` (``-artifact_prefix``) and the run exits non-zero.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import warnings
from pathlib import Path

import atheris  # type: ignore[import-untyped]

from tests.fuzz.catalog import TARGETS, Target, dictionary, load
from tests.fuzz.harness import REGRESSIONS, REPO, guarded

WORK = REPO / ".fuzz"


def main(argv: list[str]) -> None:
    options, flags = _parser().parse_known_args(argv)
    if options.list or options.target is None:
        sys.stdout.write("".join(f"{name}\n" for name in TARGETS))
        return
    spec = TARGETS.get(options.target)
    # What the code compares strings with guides the mutations. Not atheris's "RegEx" hook:
    # its proxy lacks pattern.match(text, pos), which tokenize (pydantic's docstrings) calls.
    atheris.enabled_hooks.add("str")
    with atheris.instrument_imports(include=list(spec.instrument if spec else ())):
        target = load(options.target)
    corpus = options.corpus or WORK / target.name / "corpus"
    flags = _defaults(flags, target.name, corpus.parent)
    warnings.simplefilter("error")
    atheris.Setup([sys.argv[0], *flags, *_folders(flags, corpus, target)], guarded(target.check))
    atheris.Fuzz()


def _folders(flags: list[str], corpus: Path, target: Target) -> list[str]:
    """The corpus folders to fuzz from: none when inputs are given to replay."""
    if any(not flag.startswith("-") for flag in flags):
        return []
    _seed(corpus, target)
    regressions = REGRESSIONS / target.name
    return [str(corpus), *([str(regressions)] if regressions.is_dir() else [])]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fuzz",
        description="Fuzz one parser; flags it does not know go to libFuzzer (-runs=N, "
        "-max_total_time=S, -seed=N).",
        allow_abbrev=False,
    )
    parser.add_argument("target", nargs="?", help=f"one of: {', '.join(TARGETS)}")
    parser.add_argument("--corpus", type=Path, help="the working corpus folder")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    return parser


def _seed(corpus: Path, target: Target) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    for data in target.seeds():
        (corpus / f"seed-{hashlib.sha1(data).hexdigest()}").write_bytes(data)


def _defaults(flags: list[str], name: str, folder: Path) -> list[str]:
    """``flags`` with the target's dictionary, and crashes written beside its corpus."""
    folder.mkdir(parents=True, exist_ok=True)
    given = {flag.partition("=")[0] for flag in flags}
    if "-dict" not in given:
        path = folder / f"{name}.dict"
        path.write_text(dictionary(name), "utf-8")
        flags = [*flags, f"-dict={path}"]
    if "-artifact_prefix" not in given:
        flags = [*flags, f"-artifact_prefix={folder}/"]
    return flags


if __name__ == "__main__":
    main(sys.argv[1:])
