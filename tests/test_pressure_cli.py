"""``adapterctl pressure`` end to end: the example registry on the reference node, over HTTP.

The budgets here are either generous or impossible, so no assertion depends on how fast the
machine running the tests is.
"""

from __future__ import annotations

import json
import re
import socket
from collections import Counter
from pathlib import Path

import pytest
import yaml

from adapterctl.cli.app import main
from adapterctl.model import PressureProfile
from adapterctl.pressure.schedule import generate
from adapterctl.registry import Registry
from tests.conftest import REPO, copy_registry

NEW, OLD = "support-bot@1.2.0", "support-bot@1.1.0"
PATH = "environments/staging/pressure/quick.yaml"
QUICK = """\
# yaml-language-server: $schema=../../../schemas/pressure-profile.schema.json
name: quick
description: A quick mix for the tests.
seed: 11
requests: 12
arrival: {rate_per_s: 40, bursts: [{at_s: 0.1, requests: 4}]}
concurrency: 4
prompt_tokens: [{tokens: 4, weight: 2}, {tokens: 16}]
output_tokens: [{tokens: 4}, {tokens: 8}]
mix: [{target: candidate, weight: 2}, {target: sql-helper}, {target: base}]
budgets:
  p95_ms: 60000
  ttft_p95_ms: 60000
  min_throughput_rps: 0.01
vs_baseline:
  max_ratio: {p95: 1000, ttft_p95: 1000}
  min_throughput_ratio: 0.001
"""


@pytest.fixture
def endpoint(example_endpoint: str) -> str:
    return example_endpoint


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = copy_registry(tmp_path / "registry")
    (root / PATH).write_text(QUICK)
    return root


def _pressure(root: Path, endpoint: str, *args: str, fmt: str = "json") -> int:
    return main([
        "pressure", NEW, "--env", "staging", "--endpoint", endpoint, "--root", str(root),
        "--format", fmt, *args,
    ])  # fmt: skip


def test_both_revisions_are_reported_side_by_side(
    root: Path, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _pressure(root, endpoint, "--profile", "quick", fmt="text")
    out, err = capsys.readouterr()
    assert code == 0, out
    assert out.endswith("✓ pressure: 1 file, no problems\n")
    summaries = re.findall(r"info  pressure/summary\n  (.*)\n", out)
    assert [line.split(":")[0] for line in summaries] == [
        "requests to the revision", "requests, whole mix", "error rate", "throughput",
        "output tokens/s", "p50 latency", "p95 latency", "p99 latency",
        "p50 time to first token", "p95 time to first token", "p99 time to first token",
        "p95 wait for a free slot",
    ]  # fmt: skip
    assert all(f"{NEW} " in line and f", {OLD} " in line for line in summaries)
    assert f"{NEW} 16 (0 failed), {OLD} 16 (0 failed)" in summaries[1]
    header = next(line for line in err.splitlines() if "metric" in line)
    assert header.index(NEW) < header.index(OLD) < header.index("ratio")
    assert "p95 latency" in err


def test_the_evidence_holds_every_request_of_both_revisions(
    root: Path, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _pressure(root, endpoint, "--profile", PATH) == 0
    capsys.readouterr()
    evidence = json.loads((root / f"reports/pressure/{NEW}.json").read_text())
    assert (evidence["candidate"], evidence["baseline"], evidence["ok"]) == (NEW, OLD, True)
    assert evidence["targets"] == {
        "candidate": NEW, "base": "tiny-llama", "sql-helper": "sql-helper@1.1.0"
    }  # fmt: skip
    assert [(r["number"], r["revision"]) for r in evidence["rounds"]] == [
        (1, NEW), (2, OLD), (3, OLD), (4, NEW)
    ]  # fmt: skip
    schedule = generate(PressureProfile.model_validate(yaml.safe_load(QUICK)))
    assert len(schedule) == 16
    assert [(r["index"], r["target"], r["max_tokens"]) for r in evidence["schedule"]] == [
        (r.index, r.target, r.max_tokens) for r in schedule
    ]
    samples = evidence["samples"]
    for revision in (NEW, OLD):
        models = {**evidence["targets"], "candidate": revision}
        mine = sorted((s for s in samples if s["revision"] == revision), key=lambda s: s["index"])
        assert [(s["index"], s["target"], s["model"]) for s in mine] == [
            (r.index, r.target, models[r.target]) for r in schedule
        ]
    assert Counter(s["target"] for s in samples) == Counter(2 * [r.target for r in schedule])
    assert all(s["error"] is None and s["output_tokens"] > 0 for s in samples)
    assert set(evidence["summaries"]) == {NEW, OLD}


def test_an_impossible_budget_fails_the_gate_at_its_line(
    root: Path, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (root / PATH).write_text(QUICK.replace("\n  p95_ms: 60000", "\n  p95_ms: 0.001"))
    code = _pressure(root, endpoint, "--profile", "quick", "--baseline", "none")
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    (error,) = [f for f in report["findings"] if f["severity"] == "error"]
    assert (error["file"], error["line"], error["path"]) == (PATH, 12, "$.budgets.p95_ms")
    assert re.fullmatch(
        rf"p95 latency of {NEW} is \d+(\.\d)? ms, over the budget of 0.001 ms: "
        r"binomial test p = \S+ < 0.01, (?P<n>\d+) of (?P=n) requests over the budget",
        error["message"],
    )
    evidence = json.loads((root / f"reports/pressure/{NEW}.json").read_text())
    assert (evidence["baseline"], evidence["ok"], len(evidence["rounds"])) == (None, False, 1)


def test_the_endpoint_down_is_a_clear_error(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
    code = _pressure(root, url, "--profile", "quick")
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"adapterctl: error: cannot reach the node at {url}: ")
    assert "Traceback" not in err
    assert not (root / "reports").exists()


def test_a_base_model_the_node_does_not_serve_is_named(
    root: Path, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _pressure(root, endpoint, "--profile", "quick", "--base-model", "llama-70b")
    err = capsys.readouterr().err
    assert code == 1
    assert f"adapterctl: error: the node at {endpoint} does not serve llama-70b (it serves: " in err


def test_an_invalid_profile_is_reported_with_its_line(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (root / PATH).write_text(QUICK.replace("concurrency: 4", "concurrency: four"))
    code = _pressure(root, "http://127.0.0.1:9/v1", "--profile", "quick", fmt="text")
    assert capsys.readouterr().out == (
        f"{PATH}:7 $.concurrency  error  schema/invalid-value\n"
        "  expected an integer, got 'four' (a string)\n\n"
        "✗ pressure: 1 error in 1 file\n"
    )
    assert code == 1


def test_a_mix_target_the_environment_does_not_route_is_reported(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = root / "environments/staging/environment.yaml"
    env.write_text(
        env.read_text().replace("  sql-helper:\n    - {version: 1.1.0, weight: 100}\n", "")
    )
    code = _pressure(root, "http://127.0.0.1:9/v1", "--profile", "quick", fmt="text")
    assert capsys.readouterr().out == (
        f"{PATH}:10 $.mix[1].target  error  pressure/profile\n"
        "  mix target sql-helper is not routed in environment staging\n"
        "  → name a line the environment routes, 'base' or 'candidate'\n\n"
        "✗ pressure: 1 error in 1 file\n"
    )
    assert code == 1


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ("missing", "no pressure profile environments/staging/pressure/missing.yaml"),
        ("/etc/hosts.yaml", "--profile /etc/hosts.yaml is not in the registry at"),
        (
            "environments/prod/pressure/quick.yaml",
            "--profile environments/prod/pressure/quick.yaml: a pressure profile of staging is "
            "environments/staging/pressure/<profile>.yaml",
        ),
    ],
)
def test_a_profile_that_is_not_there_is_a_usage_error(
    root: Path, profile: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _pressure(root, "http://127.0.0.1:9/v1", "--profile", profile)
    assert code == 2
    assert message in capsys.readouterr().err


def test_the_example_profile_is_sized_for_the_reference_node() -> None:
    registry = Registry.load(REPO, workers=1)
    profile = registry.model("environments/staging/pressure/steady-mix.yaml", PressureProfile)
    assert profile is not None
    requests = generate(profile)
    assert len(requests) <= 64
    assert requests[-1].offset_s < 5
    assert {r.target for r in requests} == {"candidate", "sql-helper", "base"}


def test_a_schedule_without_candidate_requests_is_reported(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = QUICK.replace("requests: 12\n", "requests: 2\n").replace(
        "bursts: [{at_s: 0.1, requests: 4}]", "bursts: []"
    )
    (root / PATH).write_text(
        text.replace("{target: candidate, weight: 2}", "{target: candidate, weight: 0.001}")
    )
    code = _pressure(root, "http://127.0.0.1:9/v1", "--profile", "quick", fmt="text")
    assert capsys.readouterr().out == (
        f"{PATH}:10 $.mix  error  pressure/profile\n"
        "  the schedule sends no request to the candidate\n"
        "  → raise the candidate's weight in the mix, or the number of requests\n\n"
        "✗ pressure: 1 error in 1 file\n"
    )
    assert code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--baseline", "9.9.9"],
            "no valid revision support-bot@9.9.9 to compare with (--baseline)",
        ),
        (["--baseline", "1.2.0"], "--baseline 1.2.0 is the candidate itself"),
        (["--env", "nowhere"], "no environment nowhere: environments/nowhere/environment.yaml"),
        (
            ["--hardware-class", "h100"],
            "--hardware-class h100: no hardware class hardware/h100.yaml "
            "(the registry declares cpu-ci, gpu-l40s)",
        ),
        (
            ["--hardware-class", "cpu-ci", "--hardware-class", "cpu-ci"],
            "--hardware-class is given 2 times (cpu-ci, cpu-ci): a node belongs to one hardware class",
        ),
    ],
)
def test_bad_revisions_and_environments_are_usage_errors(
    root: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _pressure(root, "http://127.0.0.1:9/v1", "--profile", "quick", *args)
    assert code == 2
    assert message in capsys.readouterr().err
