"""``adapterctl gateway`` in its own process in front of real nodes (the reference node, and
real vLLM where installed), called with the real ``openai`` client."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.forwarding import Forwarding, serving
from tests.gatewayproc import ASK, STAGING, Gateway, Registry, ask, client, start
from tests.heldstream import holding
from tests.refnode import artifact
from tests.synccheckout import cli
from tests.syncnode import fault_proxy, runtime_node


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry")


@pytest.fixture
def gw(tmp_path: Path, reg: Registry) -> Iterator[Gateway]:
    gateway = Gateway(tmp_path / "gateway", reg)
    yield gateway
    assert gateway.stop() in (None, 0), gateway.output()


# --- the split, stickiness, pinned revisions, streaming, metrics: on each engine ---------


def test_serves_an_alias_by_weight_and_measures_each_revision(
    example_endpoint: str, reg: Registry, gw: Gateway
) -> None:
    reg.staging_routes(
        "  support-bot:\n    - {version: 1.0.0, weight: 50}\n    - {version: 1.1.0, weight: 50}\n"
        "  sql-helper:\n    - {version: 1.1.0, weight: 100}\n"
    )
    start(gw, {"node-a": example_endpoint})
    users = {f"user-{n}": ask(gw, user=f"user-{n}") for n in range(16)}
    assert set(users.values()) == {"support-bot@1.0.0", "support-bot@1.1.0"}
    assert {user: ask(gw, user=user) for user in users} == users  # each stays on its revision
    assert ask(gw, "support-bot@1.0.0") == "support-bot@1.0.0"
    counts = Counter(users.values()) + Counter(users.values())
    counts["support-bot@1.0.0"] += 1

    with client(gw) as api:
        plain = api.chat.completions.create(model="support-bot", messages=ASK, max_tokens=12,
                                            temperature=0, user="user-0")  # fmt: skip
        stream = api.chat.completions.create(model="support-bot", messages=ASK, max_tokens=12,
                                             temperature=0, user="user-0", stream=True)  # fmt: skip
        chunks = list(stream)
    assert {c.model for c in chunks} == {users["user-0"]}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        plain.choices[0].message.content
    )
    counts[users["user-0"]] += 2

    for served, count in counts.items():
        version = served.split("@")[1]
        labels = {"env": "staging", "alias": "support-bot", "version": version, "node": "node-a",
                  "tenant": "other"}  # fmt: skip
        assert gw.metric("adapterctl_gateway_requests_total", code="2xx", **labels) == count
        assert gw.metric("adapterctl_gateway_request_duration_seconds_count", **labels) == count
    stream_labels = {"version": users["user-0"].split("@")[1], "alias": "support-bot"}
    assert gw.metric("adapterctl_gateway_time_to_first_token_seconds_count", **stream_labels) == 1
    assert gw.metric("adapterctl_gateway_output_tokens_sum", **stream_labels) >= 24


def test_unknown_models_get_vllms_error(example_node: str, gw: Gateway) -> None:
    start(gw, {"node-a": example_node})
    with pytest.raises(openai.NotFoundError) as raised:
        ask(gw, "support-bot@1.2.0")  # loaded on the node, but staging does not route it
    assert raised.value.body == {
        "message": "The model `support-bot@1.2.0` does not exist.",
        "type": "NotFoundError",
        "param": None,
        "code": 404,
    }
    with client(gw) as api:
        models = api.models.list()
    assert [m.id for m in models.data] == [
        "support-bot", "sql-helper", "support-bot@1.1.0", "sql-helper@1.1.0",
    ]  # fmt: skip


# --- tenants ------------------------------------------------------------------------------

ACME, GLOBEX = "sk-acme-0001", "sk-globex-0001"


def key_file(path: Path, **tenants: str) -> Path:
    lines = [
        f"  {t}: ['sha256:{hashlib.sha256(k.encode()).hexdigest()}']" for t, k in tenants.items()
    ]
    path.write_text("tenants:\n" + "\n".join(lines) + "\n")
    return path


TENANT_CANARY = (
    "  support-bot:\n    - {version: 1.0.0, weight: 100}\n"
    "    - {version: 1.1.0, weight: 0, tenants: [acme]}\n"
)


def test_a_canary_tenant_sees_only_its_revision(
    example_node: str, reg: Registry, gw: Gateway, tmp_path: Path
) -> None:
    keys = key_file(tmp_path / "keys.yaml", acme=ACME, globex=GLOBEX)
    reg.staging_routes(TENANT_CANARY)
    start(gw, {"node-a": example_node}, f"tenants: {{keys: {keys}}}")
    acme = {ask(gw, key=ACME, user=f"u{n}") for n in range(6)}
    globex = {ask(gw, key=GLOBEX, user=f"u{n}") for n in range(6)}
    assert (acme, globex) == ({"support-bot@1.1.0"}, {"support-bot@1.0.0"})
    with pytest.raises(openai.AuthenticationError) as raised:
        ask(gw, key="sk-unknown")
    assert raised.value.body == {"message": "Unauthorized: a valid API key is required.",
                                 "type": "AuthenticationError", "param": None, "code": 401}  # fmt: skip
    assert gw.metric("adapterctl_gateway_requests_total", tenant="acme", version="1.1.0") == 6
    assert gw.metric("adapterctl_gateway_requests_total", tenant="other", version="1.0.0") == 6
    assert gw.metric("adapterctl_gateway_refused_total", code="401") == 1


def test_a_tenant_header_counts_only_from_a_trusted_proxy(
    example_node: str, reg: Registry, gw: Gateway
) -> None:
    reg.staging_routes(TENANT_CANARY)
    start(gw, {"node-a": example_node},
          "tenants: {header: {name: x-tenant, trusted_proxies: [10.0.0.0/8]}}")  # fmt: skip
    sent = {"x-tenant": "acme"}
    assert ask(gw, headers=sent) == "support-bot@1.0.0"  # loopback is no trusted proxy here
    gw.stop()
    start(gw, {"node-a": example_node},
          "tenants: {header: {name: x-tenant, trusted_proxies: [127.0.0.1/32]}}")  # fmt: skip
    assert ask(gw, headers=sent) == "support-bot@1.1.0"


def test_a_route_to_a_tenant_the_key_file_lacks(
    example_node: str,
    reg: Registry,
    gw: Gateway,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = key_file(tmp_path / "keys.yaml", globex=GLOBEX)
    commit = reg.staging_routes(TENANT_CANARY)
    gw.configure({"node-a": example_node}, f"tenants: {{keys: {keys}}}")
    code, out, err = cli(capsys, "gateway", "--config", gw.config, "--repo", reg.root)
    assert (code, out) == (1, "")
    assert err == (
        f"adapterctl: error: {STAGING} at commit {commit[:12]} routes tenant 'acme' to "
        "support-bot@1.1.0, and the tenant key file lists no such tenant\n"
    )


def test_a_malformed_key_file(
    example_node: str, gw: Gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text("tenants:\n  acme: [sk-acme-0001]\n")
    gw.configure({"node-a": example_node}, f"tenants: {{keys: {keys}}}")
    code, _, err = cli(capsys, "gateway", "--config", gw.config, "--repo", gw.registry.root)
    assert code == 1
    assert err == (
        f"adapterctl: error: {keys}:2 $.tenants.acme[0]: 'sk-acme-0001' is not a digest: "
        "expected 'sha256:' followed by 64 lower-case hex digits\n"
    )


def test_an_invalid_configuration_names_file_line_and_field(
    gw: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    gw.configure({"node-a": "http://127.0.0.1:9/v1"}, "request_timeout_s: 0")
    code, out, err = cli(capsys, "gateway", "--config", gw.config, "--repo", gw.registry.root)
    assert (code, out) == (1, "")
    assert err == (
        f"adapterctl: error: {gw.config}:7 $.request_timeout_s: must be greater than 0.0, got 0\n"
    )


# --- only loaded revisions, nodes down ----------------------------------------------------


def test_routes_only_to_revisions_the_nodes_have_loaded(reg: Registry, gw: Gateway) -> None:
    reg.staging_routes("  support-bot:\n    - {version: 1.0.0, weight: 50}\n"
                       "    - {version: 1.1.0, weight: 50}\n")  # fmt: skip
    with runtime_node() as runtime:
        node = runtime.url
        load(node, "support-bot@1.0.0")
        start(gw, {"node-a": f"{node}/v1"})
        assert {ask(gw, user=f"u{n}") for n in range(8)} == {"support-bot@1.0.0"}
        with pytest.raises(openai.InternalServerError) as raised:
            ask(gw, "support-bot@1.1.0")
        assert raised.value.status_code == 503
        assert raised.value.body == {
            "message": "No healthy node serves `support-bot@1.1.0`; try again later.",
            "type": "ServiceUnavailableError", "param": None, "code": 503,
        }  # fmt: skip

        load(node, "support-bot@1.1.0")
        gw.wait_routes("support-bot", "1.1.0", ["node-a"])
        assert {ask(gw, user=f"u{n}") for n in range(8)} == {
            "support-bot@1.0.0", "support-bot@1.1.0",
        }  # fmt: skip
        post(node, "/v1/unload_lora_adapter", {"lora_name": "support-bot@1.1.0"})
        gw.wait_routes("support-bot", "1.1.0", [])
        assert {ask(gw, user=f"u{n}") for n in range(8)} == {"support-bot@1.0.0"}


def load(root: str, label: str) -> None:
    post(root, "/v1/load_lora_adapter", {"lora_name": label, "lora_path": artifact(label)})


def post(root: str, path: str, body: object) -> None:
    request = urllib.request.Request(root + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200


def closed_port() -> str:
    with socket.socket() as probe:  # bound, never listening: connections are refused
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


def test_a_node_down_gets_no_traffic(example_node: str, gw: Gateway) -> None:
    start(gw, {"node-dead": closed_port(), "node-a": example_node})
    assert {ask(gw, user=f"u{n}") for n in range(6)} == {"support-bot@1.1.0"}
    assert gw.metric("adapterctl_gateway_node_up", node="node-dead") == 0
    assert gw.metric("adapterctl_gateway_node_up", node="node-a") == 1
    assert gw.metric("adapterctl_gateway_requests_total", node="node-a") == 6
    assert gw.metric("adapterctl_gateway_requests_total", node="node-dead") == 0


def test_a_node_that_dies_between_health_checks_hands_its_requests_on(
    example_node: str, gw: Gateway
) -> None:
    with fault_proxy(example_node.removesuffix("/v1")) as (proxy, faults):
        start(gw, {"node-a": f"{proxy}/v1", "node-b": example_node}, "health_interval_s: 300")
        faults.dead = True  # node-a drops every connection; the gateway has not looked yet
        assert {ask(gw, user=f"u{n}") for n in range(4)} == {"support-bot@1.1.0"}
    assert gw.metric("adapterctl_gateway_node_up", node="node-a") == 0
    assert gw.metric("adapterctl_gateway_node_up", node="node-b") == 1
    assert gw.metric("adapterctl_gateway_requests_total", node="node-b") == 4
    assert gw.metric("adapterctl_gateway_requests_total", node="node-a") == 0
    assert "adapterctl gateway: node node-a is down: " in gw.output()


class _BreaksOff(Forwarding):
    """A node that promises a 1000-byte answer, sends 12 bytes of it and hangs up."""

    def _handle(self) -> None:
        body = self._body()
        if self.command != "POST":
            self._answer(*self._forward(body))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b'{"id": "cmpl')
        self.wfile.flush()
        self.close_connection = True


def test_a_node_that_breaks_off_an_answer_is_a_502(example_node: str, gw: Gateway) -> None:
    handler = type("BreaksOff", (_BreaksOff,), {"upstream": example_node.removesuffix("/v1")})
    with serving(handler) as node:
        start(gw, {"node-a": f"{node}/v1"})
        with pytest.raises(openai.InternalServerError) as raised:
            ask(gw, user="u1")
    assert raised.value.status_code == 502
    assert raised.value.body == {
        "message": "The node's answer broke off; try again.",
        "type": "BadGatewayError", "param": None, "code": 502,
    }  # fmt: skip
    assert gw.metric("adapterctl_gateway_requests_total", code="5xx", version="1.1.0") == 1


class _HoldsAfterDone(Forwarding):
    """A node whose stream gives ``data: [DONE]`` and then keeps the answer open until the
    test lets it end (a node may end its chunked answer a moment after the last event)."""

    ended = threading.Event()

    def _handle(self) -> None:
        body = self._body()
        status, content_type, payload = self._forward(body)
        if self.command != "POST" or b"data: [DONE]" not in payload:
            self._answer(status, content_type, payload)
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()
        self.ended.wait(60)
        self.wfile.write(b"0\r\n\r\n")


def test_a_stream_is_counted_once_its_done_event_is_out(example_node: str, gw: Gateway) -> None:
    """The openai client hangs up as soon as it reads ``[DONE]``: the request is a success,
    counted before the client can look for it, not a client that left (499)."""
    ended = threading.Event()
    handler = type("HoldsAfterDone", (_HoldsAfterDone,),
                   {"upstream": example_node.removesuffix("/v1"), "ended": ended})  # fmt: skip
    with serving(handler) as node:
        start(gw, {"node-a": f"{node}/v1"})
        try:
            with client(gw) as api:
                stream = api.chat.completions.create(model="support-bot", messages=ASK,
                                                     max_tokens=4, user="u1", stream=True)  # fmt: skip
                assert [c.model for c in stream][-1] == "support-bot@1.1.0"
            counted = gw.metric("adapterctl_gateway_requests_total", code="2xx", version="1.1.0")
            left = gw.metric("adapterctl_gateway_requests_total", code="4xx", version="1.1.0")
        finally:
            ended.set()
    assert (counted, left) == (1, 0)


def test_no_node_up_is_503(gw: Gateway) -> None:
    start(gw, {"node-dead": closed_port()})
    with pytest.raises(openai.InternalServerError) as raised:
        ask(gw)
    assert raised.value.body == {
        "message": "No healthy node serves `support-bot`; try again later.",
        "type": "ServiceUnavailableError", "param": None, "code": 503,
    }  # fmt: skip


# --- reloads ------------------------------------------------------------------------------


def test_a_stream_in_flight_finishes_across_a_reload(
    example_node: str, reg: Registry, gw: Gateway
) -> None:
    first = reg.git("rev-parse", "HEAD")
    with holding(example_node.removesuffix("/v1")) as (proxy, hold):
        start(gw, {"node-a": f"{proxy}/v1"})
        assert gw.routes()["commit"] == first
        api = client(gw)
        stream = api.chat.completions.create(
            model="support-bot", messages=ASK, max_tokens=8, stream=True
        )
        chunks = [next(stream)]
        assert hold.held.wait(30)
        second = reg.staging_routes("  support-bot:\n    - {version: 1.0.0, weight: 100}\n")
        gw.reload(second)
        assert ask(gw) == "support-bot@1.0.0"
        in_flight = {"alias": "support-bot", "version": "1.1.0"}
        assert gw.metric("adapterctl_gateway_requests_in_flight", **in_flight) == 1
        hold.release.set()
        chunks += list(stream)
        api.close()
    assert {c.model for c in chunks} == {"support-bot@1.1.0"}
    assert chunks[-1].choices[0].finish_reason == "length"
    assert gw.metric("adapterctl_gateway_requests_total", code="2xx", version="1.1.0") == 1
    assert gw.metric("adapterctl_gateway_routes_commit", commit=second) == 1
    assert gw.metric("adapterctl_gateway_routes_commit", commit=first) == 0


def test_weights_that_do_not_add_up_keep_the_old_routes(
    example_node: str, reg: Registry, gw: Gateway
) -> None:
    first = reg.git("rev-parse", "HEAD")
    start(gw, {"node-a": example_node})
    bad = reg.staging_routes("  support-bot:\n    - {version: 1.0.0, weight: 90}\n"
                             "    - {version: 1.1.0, weight: 20}\n")  # fmt: skip
    gw.reload()
    gw.wait_log(f"at commit {bad[:12]} is not valid")
    assert gw.routes()["commit"] == first
    assert gw.output().splitlines()[-1] == (
        f"adapterctl gateway: routes not changed: {STAGING}:7 $.routes.support-bot at commit "
        f"{bad[:12]} is not valid: weights sum to 110 (90 + 20), not 100"
    )
    assert gw.metric("adapterctl_gateway_reload_errors_total",
                     reason="invalid-environment") == 1  # fmt: skip
    assert ask(gw) == "support-bot@1.1.0"


def test_a_first_table_that_does_not_validate_is_an_error(
    example_node: str, reg: Registry, gw: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = reg.staging_routes("  support-bot:\n    - {version: 1.0.0, weight: 90}\n")
    gw.configure({"node-a": example_node})
    code, _, err = cli(capsys, "gateway", "--config", gw.config, "--repo", reg.root)
    assert (code, err) == (
        1,
        f"adapterctl: error: {STAGING}:7 $.routes.support-bot at commit {bad[:12]} is not valid: "
        "weights sum to 90 (90), not 100\n",
    )


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_an_unsigned_commit_is_refused_and_the_old_routes_stay(
    example_node: str, reg: Registry, gw: Gateway, tmp_path: Path
) -> None:
    key = tmp_path / "release-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"rita@example.com {key.with_suffix('.pub').read_text()}")
    signed = _signed_commit(reg, key)
    gw.configure({"node-a": example_node}, f"trust: {{allowed_signers: {signers}}}",
                 environment="prod")  # fmt: skip
    gw.start()
    assert gw.routes()["commit"] == signed
    prod = reg.root / "environments/prod/environment.yaml"
    prod.write_text(prod.read_text().replace("weight: 90", "weight: 50").replace("10}", "50}"))
    unsigned = reg.commit("Unsigned change of prod")
    gw.reload()
    gw.wait_log(f"commit {unsigned[:12]} is not signed")
    assert gw.routes()["commit"] == signed
    assert (
        gw.output()
        .splitlines()[-1]
        .startswith(
            f"adapterctl gateway: routes not changed: commit {unsigned[:12]} is not signed as prod "
            'requires: "Unsigned change of prod" '
        )
    )
    assert gw.metric("adapterctl_gateway_reload_errors_total", reason="unsigned-commit") == 1


def _signed_commit(reg: Registry, key: Path) -> str:
    reg.git("-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit", "-q",
            "--allow-empty", "-S", "-m", "Signed release")  # fmt: skip
    return reg.git("rev-parse", "HEAD")
