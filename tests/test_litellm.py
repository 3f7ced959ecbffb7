"""``render --target litellm`` run on a real LiteLLM proxy (1.108.7, installed into
``.venv-litellm`` by ``make litellm``) in front of the reference node: the weighted split,
the tenant's tag, and LiteLLM's per-deployment Prometheus series."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest
import yaml

from tests.conftest import REPO
from tests.gatewayproc import ASK, Registry, free_port

VENV = REPO / ".venv-litellm"
VERSION = "1.108.7"
REQUIRE_ENV = "ADAPTERCTL_REQUIRE_LITELLM"
MASTER_KEY = "sk-litellm-test"
START_TIMEOUT_S = 180.0
"""LiteLLM's proxy is ready in 12-45 s here; the deadline only ends a start that hangs."""
OFFLINE = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # its bundled cost map, not GitHub's
    "LITELLM_MODE": "PRODUCTION",  # no .env file read
    "LITELLM_LOG": "ERROR",
    "DISABLE_ADMIN_UI": "True",
}
ROUTES = (
    "  support-bot:\n    - {version: 1.0.0, weight: 90}\n"
    "    - {version: 1.1.0, weight: 10, tenants: [acme]}\n"
    "  sql-helper:\n    - {version: 1.1.0, weight: 100}\n"
)


def require_litellm() -> Path:
    binary = VENV / "bin/litellm"
    if binary.is_file() and (VENV / f".installed-litellm-{VERSION}").is_file():
        return binary
    reason = f"LiteLLM's proxy is not installed ({VENV} incomplete): run `make litellm`"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def proxy(example_node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """LiteLLM on the rendered staging routes, in front of the reference node: its root URL."""
    binary = require_litellm()
    folder = tmp_path_factory.mktemp("litellm")
    registry = Registry(folder / "registry")
    registry.staging_routes(ROUTES, "A canary of support-bot 1.1.0, for acme too")
    rendered = subprocess.run(
        [sys.executable, "-m", "adapterctl", "render", "--env", "staging", "--target", "litellm",
         "--api-base", example_node, "--root", str(registry.root)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    config = yaml.safe_load(rendered)
    config["general_settings"] = {"master_key": MASTER_KEY}  # LiteLLM refuses to start without
    (folder / "litellm.yaml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = folder / "litellm.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(binary), "--config", str(folder / "litellm.yaml"), "--host", "127.0.0.1",
             "--port", str(port), "--num_workers", "1"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **OFFLINE},
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health/readiness", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"LiteLLM did not start:\n{log.read_text()[-4000:]}")
        time.sleep(0.5)  # polling a readiness endpoint


def answered_by(url: str, tags: list[str] | None = None) -> str:
    """The revision LiteLLM sent one request to (its x-litellm-model-name header)."""
    with openai.OpenAI(base_url=f"{url}/v1", api_key=MASTER_KEY, max_retries=0) as api:
        raw = api.chat.completions.with_raw_response.create(
            model="support-bot", messages=ASK, max_tokens=1,
            extra_body=None if tags is None else {"tags": tags},
        )  # fmt: skip
    return raw.headers["x-litellm-model-name"].removeprefix("hosted_vllm/")


def test_litellm_splits_by_the_rendered_weights(proxy: str) -> None:
    with ThreadPoolExecutor(8) as pool:
        counts = Counter(pool.map(lambda _: answered_by(proxy), range(100)))
    # Binomial(100, 0.1): no request on the canary has probability 3e-5, more than 22 3e-4
    assert set(counts) == {"support-bot@1.0.0", "support-bot@1.1.0"}
    assert counts["support-bot@1.1.0"] <= 22

    status, body = metrics(proxy)
    assert status == 200
    served = {
        name: sum(v for labels, v in body if labels.get("model") == name
                  and labels.get("model_group") == "support-bot")
        for name in counts
    }  # fmt: skip
    assert served == dict(counts)


def test_a_tenants_tag_reaches_its_revision_only(proxy: str) -> None:
    assert {answered_by(proxy, ["acme"]) for _ in range(6)} == {"support-bot@1.1.0"}


def metrics(url: str) -> tuple[int, list[tuple[dict[str, str], float]]]:
    """LiteLLM's latency-histogram counts per label set, from /metrics/ (master key)."""
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    request = urllib.request.Request(f"{url}/metrics/",
                                     headers={"Authorization": f"Bearer {MASTER_KEY}"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read().decode()
    found = [
        (sample.labels, float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "litellm_request_total_latency_metric_count"
    ]
    return answer.status, found
