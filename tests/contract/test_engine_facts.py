"""What a client sees of vLLM 0.32 beyond the OpenAI routes, on both targets: ``/version``,
LoRA slots beyond ``--max-cpu-loras``, and the metrics vocabulary ``triage`` and the
dashboard read (``adapterctl.serving.scrape``)."""

from __future__ import annotations

import openai
import pytest

from adapterctl.serving.scrape import parse
from tests.contract.calls import fresh_name, greedy, load_adapter, unload_adapter
from tests.contract.conftest import Target
from tests.vllmnode import MAX_CPU_LORAS


def test_version_answers_a_version_string(target: Target) -> None:
    with target.http(authorized=False) as http:
        response = http.get("/version")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["version"], str)


def test_adapters_beyond_the_cpu_slots_all_load_and_serve(
    target: Target, client: openai.OpenAI
) -> None:
    """No load is refused for want of a slot: vLLM evicts the least recently used adapter
    from its CPU cache and reads it again from its path at its next request."""
    target.need_adapters(1)
    if target.kind == "vllm" and target.max_lora_rank is None:
        pytest.skip("the external vLLM's --max-cpu-loras is not known")
    names = [fresh_name("slot") for _ in range(MAX_CPU_LORAS + 2)]
    try:
        for name in names:
            load_adapter(client, name, target.adapters[0])
        served = {card.id for card in client.models.list()}
        assert set(names) <= served
        for name in names:
            assert greedy(client, name).model == name
    finally:
        for name in names:
            unload_adapter(client, name)


def test_metrics_count_every_request_in_a_vocabulary_triage_reads(
    target: Target, client: openai.OpenAI
) -> None:
    """vLLM counts an adapter's requests under its base's name; the reference node under the
    adapter's own (it exposes ``adapterctl:`` series, which ``parse`` prefers)."""
    target.need_adapters(1)
    name = fresh_name("counted")
    load_adapter(client, name, target.adapters[0])

    def counts() -> tuple[str, dict[str, float]]:
        with target.http() as http:
            source, models = parse(http.get("/metrics").text)
        return source, {model: count.requests for model, count in models.items()}

    try:
        _, before = counts()
        for _ in range(3):
            greedy(client, name)
        source, after = counts()
    finally:
        unload_adapter(client, name)
    counted_as = target.base_model if target.kind == "vllm" else name
    assert source == ("vllm" if target.kind == "vllm" else "adapterctl")
    assert after[counted_as] - before.get(counted_as, 0.0) == 3
    assert name in after if target.kind == "node" else name not in after
