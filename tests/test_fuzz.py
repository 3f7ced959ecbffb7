"""The fuzz targets (tests/fuzz/, docs/fuzzing.md) on every test run: each one briefly under
libFuzzer with a fixed seed, and every crash a target ever found replayed against the parser
it crashed, which must now refuse it with a message (or accept it)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fuzz.catalog import TARGETS, load
from tests.fuzz.harness import REGRESSIONS, guarded

RUNS = 200
"""Inputs per target beyond its seeds: enough to catch a parser that crashes at once."""
SEED = 1
CASES = sorted(path for path in REGRESSIONS.glob("*/*") if path.name != "README.md")
Run = subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def short_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every target run ``RUNS`` times with seed ``SEED``, two at a time (a core each)."""
    folder = tmp_path_factory.mktemp("fuzz")
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = pool.map(lambda name: _fuzz(name, folder / name), TARGETS)
        return dict(zip(TARGETS, runs, strict=True))


def _fuzz(name: str, folder: Path) -> Run:
    command = [
        sys.executable, "-m", "tests.fuzz", name, "--corpus", str(folder / "corpus"),
        f"-runs={RUNS}", f"-seed={SEED}", f"-artifact_prefix={folder}/", "-timeout=60",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0", "XDG_CACHE_HOME": str(folder / "cache")}
    folder.mkdir()
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.parametrize("name", TARGETS)
def test_target_survives_a_short_run(name: str, short_runs: dict[str, Run]) -> None:
    run = short_runs[name]
    assert run.returncode == 0, run.stderr[-6000:]
    assert "Done " in run.stderr


@pytest.mark.parametrize("case", CASES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_a_crash_once_found_stays_fixed(case: Path) -> None:
    guarded(load(case.parent.name).check)(case.read_bytes())


def test_every_target_module_is_in_the_catalog() -> None:
    helpers = {"__init__", "__main__", "catalog", "harness"}
    modules = {path.stem for path in (REPO / "tests" / "fuzz").glob("*.py")} - helpers
    assert sorted(modules) == sorted(TARGETS)


def test_regression_cases_are_kept_by_target() -> None:
    folders = {path.name for path in REGRESSIONS.iterdir() if path.is_dir()}
    assert folders <= TARGETS.keys()
