"""A real Prometheus server (Debian's ``prometheus`` package, installed by .ci/run) on a
loopback port, scraping given targets every second, its data in a temporary folder;
stopped by its pid."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gatewayproc import free_port

START_TIMEOUT_S = 60.0


def require_prometheus() -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus; .ci/run does)")
    return binary


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def query(self, promql: str) -> list[dict[str, object]]:
        params = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{params}", timeout=10) as answer:
            document = json.loads(answer.read())
        result: list[dict[str, object]] = document["data"]["result"]
        return result

    def wait_scrape(self, timeout_s: float = 30.0) -> float:
        """Wait for one more scrape of every target after now; the time it saw."""
        since = time.time()
        deadline = time.monotonic() + timeout_s
        while True:
            targets = self.query("timestamp(up)")
            stamps = [float(t["value"][1]) for t in targets]  # type: ignore[index]
            if stamps and min(stamps) > since:
                return min(stamps)
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.1)  # polling Prometheus' view of its scrapes


@contextlib.contextmanager
def prometheus(folder: Path, targets: list[str]) -> Iterator[Prometheus]:
    """Prometheus scraping ``targets`` (``host:port``, path /metrics) every second."""
    binary = require_prometheus()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    listed = ", ".join(f"'{t}'" for t in targets)
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: gateway\n    static_configs: [{{targets: [{listed}]}}]\n"
    )
    port = free_port()
    log = folder / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = Prometheus(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_ready(server)
        yield server
    finally:
        process.terminate()
        process.wait(30)


def _wait_ready(server: Prometheus) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"Prometheus did not start:\n{server.log.read_text()}")
        time.sleep(0.1)  # polling a readiness endpoint
