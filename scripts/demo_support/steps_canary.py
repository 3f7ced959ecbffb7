"""Steps 3, 8 and 9: prod's gateway and Prometheus; a canary by tenant and weight, measured,
judged and expanded; a canary that regresses, judged Failed and rolled back."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from demo_support import nodes, world
from demo_support.context import Demo
from demo_support.shell import DemoFailure
from demo_support.steps_train import CANDIDATE, PULL_REQUESTS

FAULTS = Path(__file__).with_name("faults.py")
TENANT = "support-team"
CALLERS = "web-chat"
WAIT_S = 120.0
_MODEL = re.compile(r'"model":\s*"([^"]+)"')
GREP_MODEL = 'grep -o \'"model":"[^"]*"\''


def gateway(demo: Demo) -> None:
    demo.transcript.heading(3, "Prod's gateway, and Prometheus watching it")
    demo.say(
        "Clients never call prod's node: they call prod's gateway, which executes the split",
        "the environment file writes down, keeps each caller on one revision, sends canary",
        "tenants to their revision, and measures every revision apart from the others.",
        "Between the gateway and the node the demo puts a fault injector",
        "(scripts/demo_support/faults.py), idle until step 9, where it makes one revision fail.",
    )
    prod = demo.nodes["prod"]
    faults_port = nodes.free_port()
    argv = [sys.executable, str(FAULTS), "--port", str(faults_port), "--upstream", prod.url]
    demo.transcript.command(f"python $REPO/scripts/demo_support/faults.py --port {faults_port} "
                            f"--upstream {prod.url} &")  # fmt: skip
    demo.nodes["faults"] = nodes.start("faults", argv, demo.shell.env,
                                       demo.world.demo / "logs" / "faults.log")  # fmt: skip
    nodes.wait_healthy([demo.nodes["faults"]], 30)
    demo.say(
        "Callers prove their tenant with an API key; the gateway holds only the keys'",
        f"SHA-256 digests. Two tenants: {TENANT} (the support team, the first to get a new",
        f"support-bot) and {CALLERS} (the public chat widget).",
    )
    keys = _tenant_keys(demo)
    demo.shell.run(["cat", str(keys)])
    config = world.gateway_config(demo.world, demo.nodes["faults"].url)
    demo.shell.run(["cat", str(config)])
    start_gateway(demo, "gateway", config, demo.gateway_port)
    demo.say(
        "It cloned the registry, checked main's signature against its own allowed signers,",
        "and routes by that commit; it fetches main every second (--interval 1; a real one",
        "every 30 s, or at once on SIGHUP):",
    )
    demo.request(f"{demo.gateway_url}/adapterctl/routes")
    _prometheus(demo)
    demo.transcript.takeaway(
        "The gateway routes only by verified commits, only to revisions a node has loaded, "
        "and labels every request with env, alias, version, tenant and node."
    )


def start_gateway(demo: Demo, name: str, config: Path, port: int) -> None:
    """``adapterctl gateway`` following the demo registry's main (as ``demo.nodes[name]``)."""
    argv = [str(demo.shell.adapterctl_path), "gateway", "--config", str(config), "--repo",
            str(demo.world.registry), "--branch", "main", "--port", str(port),
            "--interval", "1"]  # fmt: skip
    demo.transcript.command("adapterctl " + " ".join(demo.transcript.shown(a) for a in argv[1:])
                            + " &")  # fmt: skip
    demo.nodes[name] = nodes.start(name, argv, demo.shell.env,
                                   demo.world.demo / "logs" / f"{name}.log")  # fmt: skip
    nodes.wait_healthy([demo.nodes[name]], 60)


def _tenant_keys(demo: Demo) -> Path:
    keys = demo.world.demo / "gateway" / "tenant-keys.yaml"
    lines = ["tenants:"]
    for tenant in (TENANT, CALLERS):
        key = demo.keys[tenant] = f"sk-{tenant}-{secrets.token_hex(8)}"
        (demo.world.demo / "keys" / f"{tenant}.key").write_text(key, encoding="utf-8")
        lines.append(f'  {tenant}: ["sha256:{hashlib.sha256(key.encode()).hexdigest()}"]')
    keys.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return keys


def _prometheus(demo: Demo) -> None:
    if demo.prometheus is None:
        demo.say(
            "Prometheus is not installed here (apt-get install prometheus; .ci/run installs",
            "it): in this run prod does not analyse canaries, and steps 8 and 9 say what they",
            "would have judged.",
        )
        return
    demo.say(
        "A real Prometheus scrapes the gateway every second. The canary analysis reads it:",
        f"prod's analysis settings (the demo's copy judges one minute of at least "
        f"{_min_requests()} requests per revision; the example asks for three 5-minute",
        "windows of 200):",
    )
    config = world.prometheus_config(demo.world, demo.gateway_port)
    port = nodes.free_port()
    argv = [demo.prometheus, f"--config.file={config}",
            f"--storage.tsdb.path={config.parent / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    demo.transcript.command("prometheus " + " ".join(demo.transcript.shown(a) for a in argv[1:])
                            + " &")  # fmt: skip
    log = demo.world.demo / "logs" / "prometheus.log"
    demo.nodes["prometheus"] = nodes.start("prometheus", argv, demo.shell.env, log, port)
    demo.prometheus_url = f"http://127.0.0.1:{port}"
    _wait(lambda: _get(f"{demo.prometheus_url}/-/ready") is not None, "Prometheus is not ready")
    demo.shell.run(["grep", "-A3", "^analysis:", "environments/prod/environment.yaml"])


def _min_requests() -> str:
    return world.DEMO_ANALYSIS.split("min_requests: ")[1].strip()


def canary(demo: Demo) -> None:
    demo.transcript.heading(8, "A canary in prod: one tenant and 10 %, measured, judged, expanded")
    demo.say(
        "Prod takes revisions from staging only after they have soaked there for 24 hours",
        f"(judged from git history){demo.signed(', and only through signed merges')}. The",
        f"first step sends the support team ({TENANT}) and 10 % of everyone else to 1.1.0:",
    )
    _promote(demo, CANDIDATE, "canary-prod", "--weight", "10", "--tenant", TENANT)
    demo.say(
        "The sync loaded 1.1.0 next to 1.0.0; the gateway fetched the merge, checked its",
        "signature and routes by it. A request names the alias; the answer's model field",
        "names the revision that answered. The support team's callers all get 1.1.0:",
    )
    for user in ("agent-7", "agent-12"):
        _ask(demo, TENANT, "support-bot", user)
    demo.say(f"{CALLERS}'s callers are placed by a stable hash of who they are, 90/10:")
    for user in ("visitor-1", "visitor-2", "visitor-3"):
        _ask(demo, CALLERS, "support-bot", user)
    if demo.prometheus is None:
        _unjudged(demo)
        return
    demo.say(
        "Traffic: the pressure replay sends prod's canary-traffic profile through the",
        "gateway, 200 requests, each from a new caller, as the chat widget's users would.",
    )
    _traffic(demo, "support-bot")
    demo.say(
        "canary analyze compares 1.1.0 with 1.0.0 over the same minute, from Prometheus: errors",
        "(Fisher's exact test), p95/p99 latency and time to first token (Mann-Whitney U on",
        "the histograms), output length; the PromQL is in the report.",
    )
    demo.shell.adapterctl("canary", "analyze", "support-bot", "--env", "prod", "--prometheus",
                          demo.prometheus_url, limit=40)  # fmt: skip
    demo.say(
        "Successful: the release manager finishes the canary. promote runs the same",
        "analysis first and puts it in the pull request and in the commit's trailer:",
    )
    _promote(demo, CANDIDATE, "finish-prod", "--finish", "--prometheus", demo.prometheus_url)
    demo.transcript.takeaway(
        "1.0.0 is unloaded from prod's GPU slots but retained (weight 0) and kept in the "
        "node's cache: a rollback needs no download. The sync unloaded it only once the "
        "gateway routed by the merge and had no request to it in flight."
    )


def _unjudged(demo: Demo) -> None:
    demo.say("Without Prometheus, no analysis: the canary is finished unjudged.")
    _promote(demo, CANDIDATE, "finish-prod", "--finish")


def regression(demo: Demo) -> None:
    demo.transcript.heading(9, "A canary that regresses in prod: judged Failed, rolled back")
    label = "sql-helper@1.1.0"
    demo.say(
        "sql-helper 1.1.0 has served staging for ten days and passed every gate. In prod it",
        "starts as a 10 % canary:",
    )
    _promote(demo, label, "canary-sql-helper", "--weight", "10")
    if demo.prometheus is None:
        _unjudged_regression(demo)
        return
    demo.say(
        "Now prod's node starts failing one request in three to sql-helper@1.1.0 (the fault",
        "injector answers them 500 with vLLM's error shape, as a broken kernel for one",
        "adapter's rank would); 1.0.0 is not touched:",
    )
    demo.request(f"{demo.nodes['faults'].url}/faults",
                 json.dumps({"model": label, "fail_every": 3}))  # fmt: skip
    _traffic(demo, "sql-helper", expect=1)
    demo.say(
        "The replay's own error budget sees the failures (exit 1), without knowing which",
        "revision failed: the alias is what its callers see.",
    )
    demo.say("The release manager tries to take the canary to 50 %; promote judges it first:")
    number = demo.open_pull_request()
    body = f"{PULL_REQUESTS}/{number}-rollback-sql-helper.md"
    demo.shell.adapterctl("promote", label, "--env", "prod", "--weight", "50", "--prometheus",
                          demo.prometheus_url, *demo.sign(), "--body-file", body, expect=1,
                          limit=40)  # fmt: skip
    demo.transcript.expected("exit code 1, as expected: no step; the rollback is written instead")
    demo.shell.run(["cat", body], limit=30)
    demo.merge("rollback/prod/sql-helper-1.0.0", number)
    demo.sync("prod")
    demo.request(f"{demo.nodes['faults'].url}/faults", json.dumps({"model": "", "fail_every": 0}))
    demo.transcript.takeaway(
        "The canary's errors were measured by the gateway, counted by Prometheus and judged "
        "by a test, not by someone reading a dashboard; the rollback's pull request carries "
        "the evidence, and one merge took the canary out of traffic."
    )


def _unjudged_regression(demo: Demo) -> None:
    demo.say("Without Prometheus, nothing can judge it: the demo rolls it back by hand.")
    number = demo.open_pull_request()
    demo.shell.adapterctl("rollback", "--env", "prod", "sql-helper", "--to", "1.0.0",
                          *demo.sign())  # fmt: skip
    demo.merge("rollback/prod/sql-helper-1.0.0", number)
    demo.sync("prod")


def _promote(demo: Demo, label: str, kind: str, *args: str) -> None:
    """promote, its pull-request body, the merge, the sync, and the gateway on the merge."""
    number = demo.open_pull_request()
    body = f"{PULL_REQUESTS}/{number}-{kind}.md"
    demo.shell.adapterctl("promote", label, "--env", "prod", *args, *demo.sign(), "--body-file",
                          body, limit=40)  # fmt: skip
    demo.shell.run(["cat", body], limit=30)
    name, version = label.split("@")
    demo.merge(f"promote/prod/{name}-{version}", number)
    demo.sync("prod")
    wait_gateway(demo)


def wait_gateway(demo: Demo, url: str | None = None) -> None:
    """Until the gateway (prod's, or the one at ``url``) routes by main's commit and sees
    every routed revision loaded."""
    head = demo.shell.quiet(["git", "rev-parse", "main"]).output.strip()

    def ready() -> bool:
        routes = _get(f"{url or demo.gateway_url}/adapterctl/routes")
        if routes is None:
            return False
        document = json.loads(routes)
        entries = [r for table in document["routes"].values() for r in table]
        routed = [r for r in entries if r["weight"] or r["tenants"]]
        return bool(document["commit"] == head and all(r["nodes"] for r in routed))

    _wait(ready, f"the gateway does not route by {head[:12]}")


def _ask(demo: Demo, tenant: str, model: str, user: str) -> None:
    """One request through the gateway as ``user`` of ``tenant``; shows the model that answered."""
    url = f"{demo.gateway_url}/v1/chat/completions"
    body = chat_body(model, user)
    shown = (f"curl -sS {url} -H \"Authorization: Bearer $(cat $DEMO/keys/{tenant}.key)\" "
             f"-H 'Content-Type: application/json' -d '{body}' | {GREP_MODEL}")  # fmt: skip
    demo.transcript.command(shown)
    found = answered_by(demo, demo.gateway_url, tenant, model, user)
    demo.transcript.output([f'"model":"{found}"'])


def chat_body(model: str, user: str) -> str:
    question = [{"role": "user", "content": "Where is my refund?"}]
    return json.dumps({"model": model, "user": user, "max_tokens": 4, "messages": question})


def answered_by(demo: Demo, gateway: str, tenant: str, model: str, user: str) -> str:
    """The revision that answered one request through ``gateway`` as ``user`` of ``tenant``."""
    url = f"{gateway}/v1/chat/completions"
    request = urllib.request.Request(url, data=chat_body(model, user).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {demo.keys[tenant]}",
                                              "Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            text = answer.read().decode()
    except OSError as exc:
        raise DemoFailure(f"POST {url} as {tenant} failed: {exc}") from exc
    found = _MODEL.search(text)
    return found.group(1) if found else "?"


def _traffic(demo: Demo, alias: str, expect: int = 0) -> None:
    """The canary-traffic replay through the gateway, then one more Prometheus scrape."""
    shown = (f"ADAPTERCTL_API_KEY=$(cat $DEMO/keys/{CALLERS}.key) adapterctl pressure {alias} "
             f"--env prod --profile canary-traffic --endpoint {demo.gateway_url}/v1 "
             f"--evidence reports/pressure/prod-{alias}.json")  # fmt: skip
    argv = [str(demo.shell.adapterctl_path), "pressure", alias, "--env", "prod", "--profile",
            "canary-traffic", "--endpoint", f"{demo.gateway_url}/v1", "--evidence",
            f"reports/pressure/prod-{alias}.json"]  # fmt: skip

    def keep(lines: list[str]) -> list[str]:
        wanted = (
            "requests to the revision:",
            "error rate",
            "p95 latency:",
            "✓ pressure",
            "✗ pressure",
        )
        return [line for line in lines if line.lstrip().startswith(wanted)]

    key = {"ADAPTERCTL_API_KEY": demo.keys[CALLERS]}
    demo.shell.run(argv, shown=shown, env=key, keep=keep, expect=expect)
    answered = _gateway_total(demo, alias)

    def scraped() -> bool:
        query = f'sum(adapterctl_gateway_requests_total{{env="prod", alias="{alias}"}})'
        params = urllib.parse.urlencode({"query": query})
        text = _get(f"{demo.prometheus_url}/api/v1/query?{params}")
        result = json.loads(text or "{}").get("data", {}).get("result", [])
        return bool(result) and float(result[0]["value"][1]) >= answered

    _wait(scraped, "Prometheus did not scrape the gateway's counts")


def _gateway_total(demo: Demo, alias: str) -> float:
    text = _get(f"{demo.gateway_url}/metrics") or ""
    prefix = "adapterctl_gateway_requests_total{"
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(prefix) and f'alias="{alias}"' in line)  # fmt: skip


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return str(answer.read().decode())
    except OSError:
        return None


def _wait(ready: Callable[[], bool], problem: str) -> None:
    """Poll ``ready()`` until true (a state to wait for, not a fixed delay)."""
    deadline = time.monotonic() + WAIT_S
    while not ready():
        if time.monotonic() > deadline:
            raise DemoFailure(f"{problem} within {WAIT_S:.0f} s")
        time.sleep(0.2)
