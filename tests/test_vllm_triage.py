"""``adapterctl triage`` against real vLLM: what its own metrics can tell, and what not.

vLLM counts an adapter's requests under the base's ``model_name``: triage sees the base
and the node, says so in a ``limit`` line, and never makes up a per-adapter verdict. With
``adapterctl gateway`` in front (``--gateway``), the gateway's per-revision series name the
failing revision.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from adapterctl.cli.app import main
from adapterctl.serving import gateway_scrape, scrape
from adapterctl.serving.gateway_scrape import GatewayScrape
from adapterctl.serving.nodeconfig import load_nodes
from tests.gatewayproc import Gateway, Registry, ask, start
from tests.refnode import artifact
from tests.regressing import regressing
from tests.vllmnode import API_KEY, VllmServer

LIMIT = (
    "gpu-v: vLLM's /metrics count every request under the base's name (model_name), adapter "
    "requests included, so these nodes tell base from infrastructure but not one adapter "
    "revision from another; per-revision signals need metrics labelled per revision by a "
    "gateway in front of the nodes"
)


def test_triage_on_vllm_counts_by_base_and_says_what_it_cannot_tell(
    vllm: VllmServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    label = "support-bot@1.1.0"
    status, body = vllm.call("POST", "/v1/load_lora_adapter",
                             {"lora_name": label, "lora_path": artifact(label)})  # fmt: skip
    assert status == 200, body
    config = tmp_path / "gpu-v.yaml"
    config.write_text(
        f"name: gpu-v\nenvironment: prod\nendpoint: {vllm.url}/v1\n"
        "base: {path: base, served_name: tiny-llama}\ncache_dir: cache\n"
    )
    # vLLM's /metrics can be slow to answer on a busy CPU: the timeout is a safety net
    args = ["triage", "--env", "prod", "--node-config", str(config), "--timeout", "60"]
    assert main([*args, "-f", "json"]) == 0
    before = json.loads(capsys.readouterr().out)["nodes"][0]["requests"]
    with OpenAI(base_url=f"{vllm.url}/v1", api_key=API_KEY, max_retries=0) as client:
        for model in (label, label, label, "tiny-llama"):
            client.completions.create(model=model, prompt="Refund?", max_tokens=2)
    assert main([*args, "-f", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(row["name"], row["kind"]) for row in document["revisions"]] == [("tiny-llama", "base")]
    assert document["nodes"][0]["kind"] == "vllm metrics"
    assert document["nodes"][0]["requests"] - before == 4
    assert (document["verdict"], document["limits"]) == ("none", [LIMIT])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"limit: {LIMIT}\nverdict: none: nothing stands out.\n" in out


GATEWAY_LIMIT = (
    "gpu-v: vLLM counts adapter requests under the base's name, so the revisions' numbers come "
    "from the gateways' series and the base's are vLLM's less the revisions' requests the "
    "gateways had answered there (requests that bypass the gateways count as the base's, and "
    "vLLM's own errors stay with it)"
)


def test_triage_names_a_failing_revision_on_vllm_from_the_gateway(
    example_vllm: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = Registry(tmp_path / "registry")
    reg.staging_routes(
        "  support-bot:\n    - {version: 1.0.0, weight: 50}\n    - {version: 1.1.0, weight: 50}\n"
    )
    config = tmp_path / "gpu-v.yaml"
    config.write_text(
        f"name: gpu-v\nenvironment: staging\nendpoint: {example_vllm}\n"
        "base: {path: base, served_name: tiny-llama}\ncache_dir: cache\n"
    )
    [node] = load_nodes([config], "staging")
    args = ["triage", "--env", "staging", "--node-config", str(config), "--timeout", "60"]
    assert main([*args, "-f", "json"]) == 0
    before = json.loads(capsys.readouterr().out)["nodes"][0]["requests"]
    gateway = Gateway(tmp_path / "gateway", reg)
    with regressing(example_vllm.removesuffix("/v1")) as (proxy, regression):
        regression.fail_every["support-bot@1.1.0"] = 3  # answered 500 before vLLM sees them
        start(gateway, {"gpu-v": f"{proxy}/v1"})
        try:
            for _ in range(30):
                with contextlib.suppress(openai.InternalServerError):
                    ask(gateway, "support-bot@1.1.0")
                ask(gateway, "support-bot@1.0.0")
            with OpenAI(base_url=example_vllm, api_key=API_KEY, max_retries=0) as client:
                for _ in range(10):
                    client.completions.create(model="tiny-llama", prompt="Hi", max_tokens=1)
            # both count a request once its answer is out: wait until they have
            until(lambda: _requests(gateway_scrape.fetch_gateway(gateway.url, "staging", 60)), 60)
            until(lambda: scrape.fetch(node, 60).models["tiny-llama"].requests, before + 60)

            assert main([*args, "-f", "json"]) == 0  # vLLM alone cannot tell them apart
            alone = json.loads(capsys.readouterr().out)
            assert [row["name"] for row in alone["revisions"]] == ["tiny-llama"]

            with_gateway = [*args, "--gateway", gateway.url]
            assert main([*with_gateway, "-f", "json"]) == 1
            document = json.loads(capsys.readouterr().out)
            assert main(with_gateway) == 1
            out = capsys.readouterr().out
        finally:
            assert gateway.stop() == 0, gateway.output()

    assert document["verdict"] == "adapter-specific"
    [finding] = document["findings"]
    assert (finding["subject"], finding["nodes"]) == ("support-bot@1.1.0", ["gpu-v"])
    assert finding["message"].startswith(
        "support-bot@1.1.0 is elevated on every node that serves it (gpu-v): "
        "error rate 33.3% (10 of 30), p95 "
    )
    rows = {row["name"]: (row["requests"], row["errors"]) for row in document["revisions"]}
    assert rows == {
        "support-bot@1.0.0": (30, 0),
        "support-bot@1.1.0": (30, 10),
        "tiny-llama": (before + 10, 0),  # vLLM's count less the 50 answered revision requests
    }
    assert document["nodes"][0]["kind"] == "vllm+gateway metrics"
    assert document["limits"] == [GATEWAY_LIMIT]
    assert f"limit: {GATEWAY_LIMIT}\nverdict: adapter-specific: " in out
    assert out.endswith(f"  - adapter-specific: {finding['message']}\n")


def _requests(found: GatewayScrape) -> float:
    assert found.problem is None, found.problem
    return sum(counts.requests for counts in found.cells.values())


def until(read: Callable[[], float], expected: float, timeout_s: float = 30.0) -> None:
    """Poll ``read`` until it gives ``expected``."""
    deadline = time.monotonic() + timeout_s
    while (value := read()) != expected:
        assert value < expected, (value, expected)
        assert time.monotonic() < deadline, (value, expected)
        time.sleep(0.05)  # polling the counters
