"""Steps 14 and 15: support-bot 1.1.0 merged into its base's weights for a business reason,
the merged base's gates, and a canary of the merged base against the adapter it came from
behind staging's gateway, rolled back by one revert (DESIGN §5b, docs/bases.md)."""

from __future__ import annotations

import time
from collections import Counter

from demo_support import nodes, world
from demo_support.context import Demo
from demo_support.nodes import Node
from demo_support.shell import DemoFailure, display
from demo_support.steps_canary import (
    CALLERS,
    GREP_MODEL,
    answered_by,
    chat_body,
    start_gateway,
    wait_gateway,
)
from demo_support.steps_train import CANDIDATE, PULL_REQUESTS, SUMMARIES

MERGED = "support-bot-merged@r1"
BRANCH = "merge/support-bot-merged-r1"
REASON = "p95 budget 300 ms on gpu-l40s; the adapter path measures 340 ms (OPS-12)"
ANSWERED = 'adapterctl_gateway_requests_total{alias="support-bot",code="2xx"'
VISITORS = 40
"""Callers sent through staging's gateway at each check of the split."""


def merge(demo: Demo) -> None:
    demo.transcript.heading(14, "A merged base: the business trigger, the merge and its gates")
    demo.say(
        "The adapter path is done; now a business decision. support-bot's p95 latency budget",
        "on prod's GPU nodes is 300 ms and the adapter path measures 340 ms (ticket OPS-12):",
        "what is over is the LoRA arithmetic on every token. The platform team decides to",
        "serve support-bot 1.1.0 merged into its base's weights, as a base of its own on",
        "nodes of its own, and to canary it against the adapter. The trigger (latency) and",
        "the reason in words are recorded in the merged base, for the reviewers.",
    )
    demo.shell.git("switch", "-q", "-c", BRANCH)
    demo.say(
        "merge verifies 1.1.0's signature against the verifier's trust file (CI's copy), runs",
        "its integrity and compat gates, folds the adapter into the base with PEFT (in",
        "float32, then one cast to the base's dtype) and proves the result equivalent to base",
        "+ adapter before it stores anything; the pipeline key signs the merged weights:",
    )
    demo.shell.adapterctl("merge", CANDIDATE, "--name", "support-bot-merged", "--revision", "r1",
                          "--trigger", "latency", "--reason", REASON, "--trust",
                          str(demo.world.verifier_trust))  # fmt: skip
    demo.shell.adapterctl("sign", MERGED, "--base", "--key", str(demo.world.trainer_key))
    started = _start_merged_node(demo)
    demo.say(
        "The merge record in the new base's manifest: every source by digest (the adapter's",
        "manifest, artifact and signature, the base's weights), method, dtype, tolerance,",
        "the trigger and who merged:",
    )
    demo.shell.run(["sed", "-n", "/^merge:/,$p", "bases/support-bot-merged/r1.yaml"], limit=30)
    demo.commit("Merge support-bot 1.1.0 into support-bot-merged r1", "bases/support-bot-merged")
    _gates(demo, started)
    demo.transcript.takeaway(
        "A merged base is a reviewed decision with its evidence: why (the trigger), from "
        "what (digests), and how close to the adapter it came from (the equivalence gate)."
    )


def _gates(demo: Demo, started: float) -> None:
    number = demo.open_pull_request()
    demo.say(
        f"Pull request #{number}'s CI repeats the proof from the store: the fingerprints are",
        "the source base's, the stored weights hash to the manifest, and the equivalence",
        "figures hold (merged against base + adapter, on the line's golden prompts and fixed",
        "probes). The signature is verified as any artifact's:",
    )
    demo.shell.adapterctl("check", "--base", MERGED)
    demo.shell.adapterctl("verify", MERGED, "--base", "--trust", str(demo.world.verifier_trust))
    nodes.wait_healthy([demo.nodes["merged"]], demo.engine.deadline_s)
    seconds = time.monotonic() - started
    demo.transcript.output([f"/health: 200 from merged-node {seconds:.1f} s after its start"])
    demo.say(
        "The golden gate asks support-bot's reference questions of the merged base served",
        "alone (no baseline: the adapter's answers passed the same suite in step 5):",
    )
    endpoint = f"{demo.nodes['merged'].url}/v1"
    summary = f"{SUMMARIES}/eval-{MERGED}.md"
    demo.shell.adapterctl("eval", MERGED, "--env", "staging", "--endpoint", endpoint,
                          "--baseline", "none", *demo.eval_concurrency(), "-f", "markdown",
                          "-o", summary)  # fmt: skip
    demo.shell.run(["cat", summary], limit=16)
    merged = f"merged{demo.signed(', signed')}"
    demo.say(f"Every gate passed: pull request #{number} is approved and {merged}.")
    demo.shell.git("switch", "-q", "main")
    demo.merge(BRANCH, number)


def _start_merged_node(demo: Demo) -> float:
    """Start a node serving the merged weights alone, under the merged base's served name,
    in place of the CI runner's node (done since step 10); when it started."""
    demo.say(
        "The merged base gets a node of its own now, so that it is up by the time CI's golden",
        "gate asks it. The CI runner's node has done its job (steps 5 and 10): the demo stops",
        "it, and its cores go to the new node.",
    )
    nodes.stop(demo.nodes.pop("ci"))
    weights = world.weights_of(demo.world, "support-bot-merged", "r1")
    port = nodes.free_port()
    env = demo.engine.node_env(demo.shell.env)
    if demo.engine.vllm:
        demo.say(
            "It is a real vLLM API server like the others, started on the merged weights from",
            f"the store and serving them as {MERGED}; no --enable-lora, no adapter slots:",
            "that is the point of merging.",
        )
        argv = demo.engine.vllm_argv(weights, port, "--served-model-name", MERGED)
        shown = f"VLLM_CPU_KVCACHE_SPACE={env['VLLM_CPU_KVCACHE_SPACE']} "
    else:
        demo.say(
            "It is a reference node started on the merged weights from the store and serving",
            f"them as {MERGED}, with no adapter loaded (merging is what lets its nodes run",
            "without --enable-lora).",
        )
        argv = [str(demo.shell.adapterctl_path), "serve", "--base", str(weights), "--port",
                str(port), "--served-model-name", MERGED, "--max-loras", "1"]  # fmt: skip
        shown = "adapterctl "
    words = argv if demo.engine.vllm else argv[1:]
    demo.transcript.command(f"{shown}{display(words, demo.transcript)} &")
    node = nodes.start("merged-node", argv, env, demo.world.demo / "logs" / "merged-node.log")
    demo.nodes["merged"] = node
    return time.monotonic()


def canary(demo: Demo) -> None:
    demo.transcript.heading(15, "The merged base against its adapter in staging, and back")
    demo.say(
        "Staging gets a gateway of its own (prod's follows prod), in front of both pools:",
        "staging's node, which serves support-bot 1.1.0 as an adapter on tiny-llama, and the",
        f"merged base's node, which lists {MERGED} in its /v1/models.",
    )
    port = nodes.free_port()
    pools = {"staging-node": demo.nodes["staging"].url, "merged-node": demo.nodes["merged"].url}
    config = world.env_gateway_config(demo.world, "staging", pools)
    demo.shell.run(["cat", str(config)])
    start_gateway(demo, "staging-gateway", config, port)
    gateway = demo.nodes["staging-gateway"]
    demo.say(
        "promote takes the merged base where it takes a revision: the route is the alias's it",
        "was merged from, and the pull request carries the merge's trigger and reason:",
    )
    number = demo.open_pull_request()
    body = f"{PULL_REQUESTS}/{number}-merged-staging.md"
    demo.shell.adapterctl("promote", MERGED, "--env", "staging", "--weight", "25", *demo.sign(),
                          "--body-file", body)  # fmt: skip
    demo.shell.run(["cat", body], limit=40)
    demo.merge(f"promote/staging/support-bot-{MERGED}", number)
    demo.say("The adapter pool has nothing to load for it: the merged base has its own node.")
    demo.sync("staging")
    wait_gateway(demo, gateway.url)
    demo.say(
        f"{VISITORS} chat-widget visitors ask support-bot through staging's gateway, each placed",
        "by a stable hash of who they are, 75/25 between the adapter and the merged base:",
    )
    visitors(demo, gateway.url, {CANDIDATE, MERGED})
    demo.say(
        "The gateway counts each side apart, by the revision it routed to and the node that",
        "answered (its answered requests, per revision and node):",
    )
    demo.metrics("staging-gateway", ANSWERED)
    _rollback(demo, gateway)


def _rollback(demo: Demo, gateway: Node) -> None:
    demo.say(
        "Rolling the merged base back is one revert, as for any revision: rollback finds the",
        "commit that last changed support-bot's routes in staging and reverts it on a branch.",
    )
    number = demo.open_pull_request()
    body = f"{PULL_REQUESTS}/{number}-rollback-staging.md"
    demo.shell.adapterctl("rollback", "--env", "staging", "support-bot", *demo.sign(),
                          "--body-file", body)  # fmt: skip
    branch = demo.shell.quiet(["git", "branch", "--list", "rollback/staging/support-bot-*",
                               "--format=%(refname:short)"])  # fmt: skip
    names = branch.output.split()
    if len(names) != 1:
        raise DemoFailure("expected exactly one rollback branch", branch.output)
    demo.shell.run(["cat", body], limit=24)
    demo.merge(names[0], number)
    wait_gateway(demo, gateway.url)
    demo.say("The same visitors again: all of them on the adapter.")
    visitors(demo, gateway.url, {CANDIDATE})
    demo.transcript.takeaway(
        "The merged base took a quarter of staging's support-bot traffic beside the adapter "
        "it came from, measured by the gateway per side; one revert took it out of traffic. "
        "Its node can stop once the revert has soaked."
    )


def visitors(demo: Demo, gateway: str, expected: set[str]) -> None:
    """VISITORS requests through the gateway at ``gateway``, one per visitor, counted by the
    revision that answered (as ``sort | uniq -c`` counts); exactly ``expected`` must answer."""
    body = chat_body("support-bot", "visitor-'$i'")
    url = f"{gateway}/v1/chat/completions"
    demo.transcript.command(
        f'for i in $(seq 1 {VISITORS}); do curl -sS {url} -H "Authorization: Bearer '
        f"$(cat $DEMO/keys/{CALLERS}.key)\" -H 'Content-Type: application/json' -d '{body}' "
        f"| {GREP_MODEL}; done | sort | uniq -c"
    )
    counts = Counter(answered_by(demo, gateway, CALLERS, "support-bot", f"visitor-{i}")
                     for i in range(1, VISITORS + 1))  # fmt: skip
    demo.transcript.output([f'{n:7d} "model":"{model}"' for model, n in sorted(counts.items())])
    if set(counts) != expected:
        got = ", ".join(f"{n} from {model}" for model, n in sorted(counts.items()))
        raise DemoFailure(f"expected answers from {' and '.join(sorted(expected))}; got {got}")
