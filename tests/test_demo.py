"""``make demo`` end to end: ``scripts/demo.py`` as a subprocess, its transcript and reports.

The demo walks the whole release train on three serving nodes, then the merged-base path
on a fourth that serves the merged weights alone: reference nodes with
``DEMO_ENGINE=reference`` (about a minute on two cores), real vLLM with ``DEMO_ENGINE=vllm``
where ``make vllm`` installed it (about three minutes; skipped with the reason elsewhere,
a failure where ``ADAPTERCTL_REQUIRE_VLLM=1``). A third test stops the demo with SIGTERM
once its nodes are up (the reference node the demo falls back to when vLLM is missing):
the nodes must be gone and the temporary folder removed either way.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.vllmnode import require_vllm

DEMO = REPO / "scripts" / "demo.py"
VLLM_PYTHON = "ADAPTERCTL_VLLM_PYTHON"
KEY_LINES = (
    "1. A registry, an artifact store and a release manager's key",
    "staging-node  converged  load support-bot@1.0.0, load sql-helper@1.1.0",
    "prod-node  converged  load support-bot@1.0.0, load sql-helper@1.0.0",
    "3. Prod's gateway, and Prometheus watching it",
    "4. A trainer hands over a new revision",
    "wrote adapters/support-bot/1.1.0.yaml",
    "signed support-bot@1.1.0 (key mode): wrote adapters/support-bot/1.1.0.sigstore.json",
    "✓ validate: 16 files, no problems",
    "✓ check: 1 file, no problems",
    "✓ verify: 1 file, no problems",
    "### ✅ adapterctl eval: 1 file, no problems",
    "p95 latency budget 2000 ms holds for gpu-l40s; not checked on cpu-ci",
    "✓ pressure: 1 file, no problems",
    "created branch promote/staging/support-bot-1.1.0",
    "staging-node  converged  load support-bot@1.1.0, unload support-bot@1.0.0",
    "soak: served in staging for 2d",
    "prod-node  converged  load support-bot@1.1.0",
    "prod-node  converged  unload support-bot@1.0.0",
    "case refund-window passed on support-bot@1.1.0 in all 3 repeats but fails on "
    "support-bot@1.2.0 in 3 of 3",
    "case escalation passed on support-bot@1.1.0 in all 3 repeats but fails on "
    "support-bot@1.2.0 in 3 of 3",
    "✗ eval: 4 errors in 1 file",
    "✓ exit code 1, as expected: the pull request cannot merge",
    "compat/shape",
    "has shape [8, 192]; the base and rank need [8, 128] [rank, in_features]",
    "✓ exit code 1, as expected: compat found the shapes wrong",
    "created branch rollback/prod/support-bot-1.0.0",
    "Merge pull request #8 from example-org/rollback/prod/support-bot-1.0.0",
    "created branch promote/prod/support-bot-1.1.0",
    "## Promote support-bot 1.1.0 to prod at 10 % and for tenant support-team",
    "| `support-bot@1.1.0` | 100 % | 10 % + tenants `support-team` |",
    "support-bot@1.1.0 │ 10 % + tenants support-team │ yes",
    "✓ every node as desired",
)
MERGED_LINES = (
    "14. A merged base: the business trigger, the merge and its gates",
    "wrote bases/support-bot-merged/r1.yaml (weights sha256:c2159f3da3a6…, float16)",
    "equivalence: max |Δlogit| 0.0027 over 402 positions of 14 sequences, top-1 agreement "
    "100.0%; tolerance 0.05",
    "signed support-bot-merged@r1 (key mode): wrote bases/support-bot-merged/r1.sigstore.json",
    "        trigger: latency\n"
    "        reason: p95 budget 300 ms on gpu-l40s; the adapter path measures 340 ms (OPS-12)",
    "bases/support-bot-merged/r1.yaml:41 $.merge.dtype  info  merge/equivalent",
    "| `adapters/support-bot/golden/refunds.yaml:2` | ℹ️ info | `golden/summary` | "
    "suite refunds: support-bot-merged@r1 100% |",
    "Merge pull request #9 from example-org/merge/support-bot-merged-r1",
    "15. The merged base against its adapter in staging, and back",
    "created branch promote/staging/support-bot-support-bot-merged@r1",
    "## Promote merged base support-bot-merged@r1 for support-bot to staging at 25 %",
    "| `support-bot-merged@r1` | — | 25 % |",
    "### Merged base",
    "- **Trigger:** latency — p95 budget 300 ms on gpu-l40s; the adapter path measures "
    "340 ms (OPS-12)",
    "staging-node  converged  no changes",
    "created branch rollback/staging/support-bot-1.1.0",
    "| `support-bot-merged@r1` | 25 % | — |",
    "Merge pull request #11 from example-org/rollback/staging/support-bot-1.1.0",
    '           40 "model":"support-bot@1.1.0"',
)
"""Steps 14 and 15: the merged base, its gates, its canary against the adapter, the revert."""


ANALYSED = (
    "✓ Successful: 0 of 1 window failed, 0 inconclusive (failure_limit 0, inconclusive_limit 0)",
    "✗ Failed: 1 of 1 window failed (failure_limit 0, inconclusive_limit 0)",
    "created branch rollback/prod/sql-helper-1.0.0",
    "✓ exit code 1, as expected: no step; the rollback is written instead",
    "prod-node  converged  unload sql-helper@1.1.0",
    "canary analysis: Successful: 0 of 1 window failed",
    "canary analysis: Failed: 1 of 1 window failed",
)
"""What the canary analysis shows where Prometheus is installed (.ci/run installs it)."""


def _ports(transcript: str) -> list[int]:
    """The nodes' ports, from their commands (``adapterctl serve`` or vLLM's API server)."""
    node = r"(?:adapterctl serve|-m vllm\.entrypoints\.openai\.api_server) .*?--port (\d+) "
    return [int(port) for port in re.findall(node, transcript)]


def _demo_dir(transcript: str) -> Path:
    match = re.search(r"^  \$ export DEMO=(\S+) ", transcript, re.MULTILINE)
    assert match is not None, transcript[:2000]
    return Path(match.group(1))


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _environment(**settings: str) -> dict[str, str]:
    """This environment without the demo's own switches, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DEMO_ENGINE", VLLM_PYTHON)}
    return {**env, **settings}


def _leftovers(folder: Path) -> list[str]:
    """Processes still running in ``folder``, the demo's working directory: its nodes and
    their children (vLLM's engine core and worker rename themselves, and the rename also
    overwrites what /proc shows of their environment, but they keep the directory)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = (proc / "cwd").readlink()
            name = (proc / "comm").read_text().strip()
        except OSError:
            continue
        if cwd == folder:
            found.append(f"{proc.name} {name}")
    return found


def _walk(tmp_path: Path, engine: str, timeout_s: float) -> tuple[str, Path]:
    """Run the whole demo on ``engine``, check what both engines must show; the transcript."""
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, str(DEMO), "--reports", str(reports)],
        cwd=tmp_path, capture_output=True, text=True, timeout=timeout_s, check=False,
        env=_environment(DEMO_ENGINE=engine),
    )  # fmt: skip
    transcript = done.stdout
    assert done.returncode == 0, transcript[-6000:] + done.stderr[-3000:]
    for line in (*KEY_LINES, *MERGED_LINES):
        assert line in transcript, line
    _check_canary(transcript)
    _check_merged_split(transcript)
    if shutil.which("ssh-keygen"):
        assert "PR #6  sig G rita@example.com" in transcript
        assert re.search(r"commit `[0-9a-f]{12}` \(signed\)", transcript)
    assert re.search(r"✓ demo finished in \d+ s$", transcript.rstrip())
    assert "\033[" not in transcript  # no colour when stdout is not a terminal
    html = (reports / "golden" / "support-bot@1.2.0.html").read_text(encoding="utf-8")
    assert "refund-window" in html
    for name in ("summaries/check-support-bot@1.1.0.md", "pull-requests/2-promote-staging.md"):
        assert (reports / name).is_file(), name
    assert str(reports) in transcript
    ports = _ports(transcript)
    assert len(ports) == 4  # staging, prod, CI, and the merged base's node
    helpers = re.findall(r"(?:adapterctl gateway|faults\.py) .*?--port (\d+) ", transcript)
    helpers += re.findall(r"--web\.listen-address=127\.0\.0\.1:(\d+) ", transcript)
    assert len(helpers) == (4 if shutil.which("prometheus") else 3)
    assert not any(_listening(int(port)) for port in [*ports, *helpers])
    assert not _demo_dir(transcript).exists()
    return transcript, reports


def _check_canary(transcript: str) -> None:
    """The tenant's requests all reach the canary; with Prometheus, the analyses judge."""
    tenant = re.findall(r"keys/support-team\.key.*\n {6}\"model\":\"([^\"]+)\"", transcript)
    assert tenant == ["support-bot@1.1.0", "support-bot@1.1.0"]
    if shutil.which("prometheus") is None:
        assert "Prometheus is not installed here" in transcript
        return
    for line in ANALYSED:
        assert line in transcript, line
    failed = re.search(r"sql-helper@1\.1\.0 failed (\d+) of (\d+) requests", transcript)
    assert failed is not None
    assert int(failed.group(1)) > 0


def _check_merged_split(transcript: str) -> None:
    """Both sides answer through staging's gateway, and its metrics count the merged side
    under the merged base's served name, on the merged node."""
    canary = transcript.split("| sort | uniq -c\n", 1)[1]  # the first 40 visitors
    answers = re.match(r'(?: {6} *\d+ "model":"[^"]+"\n)+', canary)
    assert answers is not None, canary[:2000]
    counts = {model: int(n) for n, model in re.findall(r'(\d+) "model":"([^"]+)"', answers[0])}
    assert set(counts) == {"support-bot@1.1.0", "support-bot-merged@r1"}
    assert sum(counts.values()) == 40
    merged = re.search(
        r'^ {6}adapterctl_gateway_requests_total\{alias="support-bot",code="2xx",env="staging",'
        r'node="merged-node",tenant="other",version="support-bot-merged@r1"\} (\d+)\.0$',
        canary, re.MULTILINE,
    )  # fmt: skip
    assert merged is not None
    assert int(merged.group(1)) == counts["support-bot-merged@r1"]


@pytest.mark.demo
def test_demo_walks_the_release_train(tmp_path: Path) -> None:
    transcript, _ = _walk(tmp_path, "reference", timeout_s=600)
    assert "against reference nodes on loopback" in " ".join(transcript.split())
    assert "Serving nodes: real vLLM" not in transcript
    assert "adapterctl pressure support-bot@1.1.0 --env staging --profile steady-mix" in transcript
    assert not re.search(r"adapterctl pressure .*--baseline none", transcript)
    assert "--concurrency" not in transcript
    assert re.search(r"^  \$ adapterctl serve --base \"\$DEMO/store/sha256/[0-9a-f]{12}…\" "
                     r"--port \d+ --served-model-name support-bot-merged@r1 ", transcript,
                     re.MULTILINE)  # fmt: skip


@pytest.mark.demo
def test_demo_walks_the_release_train_on_vllm(tmp_path: Path) -> None:
    require_vllm()
    transcript, reports = _walk(tmp_path, "vllm", timeout_s=900)
    flat = " ".join(transcript.split())
    assert "against real vLLM nodes on loopback" in flat
    served = r"→ Serving nodes: real vLLM \d+\.\d+\.\d+\S*( \(vllm(-cpu)?\))?, started in \d+ s\."
    assert re.search(served, transcript), transcript[:6000]
    assert transcript.count("-m vllm.entrypoints.openai.api_server --model $DEMO/models/") == 3
    assert "--lora-modules" in transcript  # the CI node starts with staging's revisions
    assert re.search(r"^ {6}\{\"version\": ?\"\d+\.\d+\.\d+", transcript, re.MULTILINE)
    assert "--baseline none" in transcript  # pressure: the candidate alone on vLLM's CPU backend
    assert re.search(r"adapterctl eval support-bot@1\.1\.0 .* --concurrency 2 ", transcript)
    assert re.search(r"adapterctl eval support-bot@1\.2\.0 .* --concurrency 2$", transcript, re.M)
    assert re.search(r'vllm:request_success_total\{.*model_name="tiny-llama"', transcript)
    merged_node = (r"-m vllm\.entrypoints\.openai\.api_server --model "
                   r"\"\$DEMO/store/sha256/[0-9a-f]{12}…\" .* --served-model-name "
                   r"support-bot-merged@r1 ")  # fmt: skip
    assert re.search(merged_node, transcript)
    assert re.search(r"adapterctl eval support-bot-merged@r1 .* --baseline none --concurrency 2 ",
                     transcript)  # fmt: skip
    assert "triage can tell the base from the infrastructure" in flat
    evidence = json.loads((reports / "pressure" / "support-bot@1.1.0.json").read_text("utf-8"))
    assert evidence["baseline"] is None
    assert not _leftovers(tmp_path)


def _watch(process: subprocess.Popen[str], seen: list[str], marker: str) -> threading.Event:
    """Collect the demo's output in ``seen``; the event is set once a line has ``marker``."""
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if marker in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    return ready


@pytest.mark.demo
def test_demo_stops_its_nodes_when_terminated(tmp_path: Path) -> None:
    seen: list[str] = []
    argv = [sys.executable, str(DEMO), "--reports", str(tmp_path / "reports")]
    missing = tmp_path / "no-vllm" / "python"
    env = _environment(DEMO_ENGINE="vllm", **{VLLM_PYTHON: str(missing)})
    with subprocess.Popen(
        argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as process:
        ready = _watch(process, seen, "/health: 200 from all three nodes")
        try:
            assert ready.wait(120), "".join(seen)
            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 128 + signal.SIGTERM
        finally:
            if process.poll() is None:
                process.kill()
    transcript = "".join(seen)
    assert "✗ interrupted (SIGTERM): stopping the nodes" in transcript
    assert (
        f"The demo runs on real vLLM where it can, but {VLLM_PYTHON}={missing} does not exist: "
        "these nodes are the reference node instead." in " ".join(transcript.split())
    )
    ports = _ports(transcript)
    assert len(ports) == 3
    deadline = time.monotonic() + 10
    while any(_listening(port) for port in ports) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_listening(port) for port in ports)
    assert not _demo_dir(transcript).exists()
    assert not _leftovers(tmp_path)


@pytest.mark.demo
def test_demo_killed_while_vllm_starts_leaves_no_process_behind(tmp_path: Path) -> None:
    """SIGKILL once an engine core runs: the demo's own cleanup never runs, and an API server
    told to stop during its engine core's handshake can wait for it for good. The guard
    stops each node's whole process group: API servers, engine cores and workers."""
    require_vllm()
    seen: list[str] = []
    argv = [sys.executable, str(DEMO), "--reports", str(tmp_path / "reports")]
    with subprocess.Popen(
        argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=_environment(DEMO_ENGINE="vllm"),
    ) as process:  # fmt: skip
        starting = _watch(process, seen, "vLLM starts three processes per node")
        try:
            assert starting.wait(120), "".join(seen)
            demo_dir = _demo_dir("".join(seen))
            deadline = time.monotonic() + 300
            while not any(p.endswith("EngineCor") for p in _leftovers(tmp_path)):
                assert time.monotonic() < deadline, _leftovers(tmp_path)
                time.sleep(0.5)
            process.kill()
            process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
    deadline = time.monotonic() + 60
    while _leftovers(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.5)
    try:
        assert not _leftovers(tmp_path)
    finally:
        shutil.rmtree(demo_dir, ignore_errors=True)


def test_demo_refuses_an_unknown_engine() -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, check=False,
        env=_environment(DEMO_ENGINE="tgi"), timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "demo: DEMO_ENGINE=tgi: expected one of vllm, reference\n"


def test_demo_help() -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO), "--help"], capture_output=True, text=True, check=True
    )
    assert "--reports" in done.stdout
