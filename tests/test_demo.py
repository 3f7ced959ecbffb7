"""``make demo`` end to end: ``scripts/demo.py`` as a subprocess, its transcript and reports.

The demo starts three reference nodes and walks the whole release train (about a minute
on two cores). A second test stops it with SIGTERM once its nodes are up: the nodes must
be gone and the temporary folder removed either way.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import REPO

DEMO = REPO / "scripts" / "demo.py"
KEY_LINES = (
    "1. A registry, an artifact store and a release manager's key",
    "staging-node  converged  load support-bot@1.0.0, load sql-helper@1.1.0",
    "prod-node  converged  load support-bot@1.0.0, load sql-helper@1.0.0",
    "3. A trainer hands over a new revision",
    "wrote adapters/support-bot/1.1.0.yaml",
    "signed support-bot@1.1.0 (key mode): wrote adapters/support-bot/1.1.0.sigstore.json",
    "✓ validate: 14 files, no problems",
    "✓ check: 1 file, no problems",
    "✓ verify: 1 file, no problems",
    "### ✅ adapterctl eval: 1 file, no problems",
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
    "Merge pull request #6 from example-org/rollback/prod/support-bot-1.0.0",
    "✓ every node as desired",
)


def _ports(transcript: str) -> list[int]:
    return [int(port) for port in re.findall(r"adapterctl serve .* --port (\d+) ", transcript)]


def _demo_dir(transcript: str) -> Path:
    match = re.search(r"^  \$ export DEMO=(\S+) ", transcript, re.MULTILINE)
    assert match is not None, transcript[:2000]
    return Path(match.group(1))


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_demo_walks_the_release_train(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, str(DEMO), "--reports", str(reports)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    transcript = done.stdout
    assert done.returncode == 0, transcript[-6000:] + done.stderr[-3000:]
    for line in KEY_LINES:
        assert line in transcript, line
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
    assert len(ports) == 3
    assert not any(_listening(port) for port in ports)
    assert not _demo_dir(transcript).exists()


def test_demo_stops_its_nodes_when_terminated(tmp_path: Path) -> None:
    seen: list[str] = []
    ready = threading.Event()
    argv = [sys.executable, str(DEMO), "--reports", str(tmp_path / "reports")]
    with subprocess.Popen(
        argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                seen.append(line)
                if "/health: 200 from all three nodes" in line:
                    ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert ready.wait(120), "".join(seen)
            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 128 + signal.SIGTERM
        finally:
            if process.poll() is None:
                process.kill()
        reader.join(10)
    transcript = "".join(seen)
    assert "✗ interrupted (SIGTERM): stopping the nodes" in transcript
    ports = _ports(transcript)
    assert len(ports) == 3
    deadline = time.monotonic() + 10
    while any(_listening(port) for port in ports) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_listening(port) for port in ports)
    assert not _demo_dir(transcript).exists()


def test_demo_help() -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO), "--help"], capture_output=True, text=True, check=True
    )
    assert "--reports" in done.stdout
