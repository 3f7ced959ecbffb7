"""``adapterctl triage`` against real vLLM: what its own metrics can tell, and what not.

vLLM counts an adapter's requests under the base's ``model_name``: triage sees the base
and the node, says so in a ``limit`` line, and never makes up a per-adapter verdict.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openai import OpenAI

from adapterctl.cli.app import main
from tests.refnode import artifact
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
