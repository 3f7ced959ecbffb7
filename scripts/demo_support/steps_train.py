"""Steps 4 to 7: a new revision, its gates, staging, and the sync that brings it there."""

from __future__ import annotations

from datetime import datetime

from demo_support import world
from demo_support.context import Demo
from demo_support.shell import without_info
from demo_support.steps_setup import git_date

CANDIDATE = "support-bot@1.1.0"
PULL_REQUESTS = "reports/pull-requests"
SUMMARIES = "reports/summaries"


def register(demo: Demo, version: str) -> None:
    """A hand-over becomes a manifest and a signature bundle on a pull-request branch."""
    handover = demo.world.handover(version)
    demo.shell.git("switch", "-q", "-c", f"add/support-bot-{version}")
    demo.shell.adapterctl(
        "register", str(handover.folder), "--name", "support-bot", "--version", version,
        "--base", "tiny-llama@r1", "--training", str(handover.training),
        "--description", handover.description,
    )  # fmt: skip
    demo.shell.adapterctl("sign", f"support-bot@{version}", "--key", str(demo.world.trainer_key))
    demo.commit(f"Add support-bot {version}", "adapters/support-bot")


def hand_over(demo: Demo, two_days_ago: datetime) -> None:
    demo.transcript.heading(4, "A trainer hands over a new revision")
    demo.say(
        "The training pipeline has produced support-bot 1.1.0: a PEFT LoRA folder and a",
        "training record (code revision, seed, datasets by digest, who trained it). The",
        "demo replays the example kit's trained 1.1.0 artifact as that hand-over: it was",
        "taken out of the store in step 1.",
    )
    handover = demo.world.handover("1.1.0")
    demo.shell.run(["ls", str(handover.folder)])
    demo.shell.run(["cat", str(handover.training)], limit=24)
    demo.say(
        "Until staging has been promoted, the demo's clock is two days back (commit dates",
        "only), so that prod's 24-hour soak can be over when its turn comes.",
    )
    date = git_date(two_days_ago)
    demo.transcript.command(f"export GIT_AUTHOR_DATE={date} GIT_COMMITTER_DATE={date}")
    demo.shell.env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    demo.say(
        "register checks the folder against the base it names, copies it into the store",
        "and writes the manifest; sign makes a model-signing bundle over the stored files",
        "(with the example-only key of examples/keys/).",
    )
    register(demo, "1.1.0")
    demo.transcript.takeaway(
        "The pull request adds two small files: the manifest (digests of every file, base "
        "revision, tokenizer and chat-template fingerprints, training record) and its "
        "signature bundle. The weights went to the store, not to git."
    )


def gates(demo: Demo) -> None:
    demo.transcript.heading(5, "CI gates the pull request")
    demo.say(
        "Schema first, with immutability against main: a merged revision may never change.",
    )
    demo.shell.adapterctl("validate", "--against", "main")
    demo.say(
        "Integrity re-hashes the stored artifact against the manifest; compat checks every",
        "tensor's shape against the base's shape table, the features vLLM refuses, the rank",
        "limit, and the tokenizer and chat template the adapter was trained with.",
    )
    demo.shell.adapterctl("check", CANDIDATE, "--env", "prod")
    demo.say("The same result as Markdown, for the pull request's checks ($GITHUB_STEP_SUMMARY):")
    demo.shell.adapterctl("check", CANDIDATE, "--env", "prod", "-f", "markdown",
                          "-o", f"{SUMMARIES}/check-{CANDIDATE}.md")  # fmt: skip
    demo.say(
        "The signature, checked against the trust file CI holds itself (a copy of",
        "examples/trust.yaml, outside the registry) and the signers staging allows:",
    )
    demo.shell.adapterctl(
        "verify", CANDIDATE, "--trust", str(demo.world.verifier_trust), "--env", "staging"
    )
    demo.say(
        "The golden gate asks the line's reference questions of the candidate and of the",
        "revision staging serves now (1.0.0), three times each, on CI's node. First the",
        "candidate is loaded into that node:",
    )
    path = demo.world.stored(world.digest_of(demo.world, "support-bot", "1.1.0"))
    demo.load_on_ci_node(CANDIDATE, path)
    endpoint = f"{demo.nodes['ci'].url}/v1"
    summary = f"{SUMMARIES}/eval-{CANDIDATE}.md"
    demo.say(
        "Latency is judged against the baseline measured beside it on the same node (at most",
        "1.5× slower, by a signed-rank test per case), so a busy runner slows both alike. The CI",
        "node declares its hardware class, cpu-ci (ADAPTERCTL_HARDWARE_CLASS): the line's p95",
        "budget is promised for the GPU nodes (gpu-l40s), so here it is reported, not enforced.",
    )
    if demo.engine.vllm:
        demo.say(
            "On vLLM's CPU backend one core runs the node's inference and LoRA costs grow",
            "with every prompt in the batch, so the CI node is asked 2 requests at a time",
            "(--concurrency 2), as a CI job sizes it for its runner:",
        )
    markdown = ["-f", "markdown", "-o", summary]
    demo.shell.adapterctl("eval", CANDIDATE, "--env", "staging", "--endpoint", endpoint,
                          *demo.eval_concurrency(), *markdown)  # fmt: skip
    demo.shell.run(["cat", summary])  # if the gate fails, the failure shows the summary itself
    demo.say(
        "The pressure gate replays staging's workload profile: a length mix, a burst,",
        "sql-helper and the base served at once. Against a GPU staging node it replays the",
        "same traffic to the candidate and the baseline (A-B-B-A rounds), checks the",
        "profile's budgets and bounds their ratios.",
    )
    if demo.engine.vllm:
        demo.say(
            "On this CPU node vLLM applies LoRA with plain PyTorch operations over weights",
            "padded to --max-lora-rank 64: an adapter request costs 4 to 15 times a base",
            "request, and the first requests after a start also page in the gigabyte of KV",
            "cache, which the first round (the candidate's) would pay alone. The demo replays",
            "the candidate by itself (--baseline none): its error budget holds on any node,",
            "its latency budgets are reported. On GPU staging nodes keep the A-B-B-A rounds.",
        )
        versus = ["--baseline", "none"]
    else:
        demo.say(
            "These CPU nodes answer in tens of milliseconds, so the profile's noise floor",
            "(min_latency_delta_ms) keeps a ratio of two small numbers from deciding alone:",
        )
        versus = []
    demo.shell.adapterctl("pressure", CANDIDATE, "--env", "staging", "--profile", "steady-mix",
                          "--endpoint", endpoint, *versus, keep=without_info("pressure/summary"),
                          limit=30)  # fmt: skip
    if demo.engine.vllm:
        _metrics_by_base(demo)
    number = demo.open_pull_request()
    merged = f"merged{demo.signed(', signed')}"
    demo.say(f"Every gate passed: pull request #{number} is approved and {merged}.")
    demo.shell.git("switch", "-q", "main")
    demo.merge("add/support-bot-1.1.0", number)
    demo.transcript.takeaway(
        "Gate results, the golden HTML report and the pressure evidence are under "
        "reports/; the promotion pull request will cite them."
    )


def _metrics_by_base(demo: Demo) -> None:
    """vLLM labels adapter requests with the base's name: say so, from its own /metrics."""
    demo.say(
        "The CI node has now answered 1.0.0, 1.1.0, sql-helper and the base. vLLM's own",
        "request metrics label every request with the base's name, adapter requests too:",
    )
    demo.metrics("ci", "vllm:request_success_total")
    demo.say(
        "So per-revision signals come from the gateway, which labels each request with",
        "the revision it routed to (the canary judge reads those). From a vLLM node's own",
        "metrics, triage can tell the base from the infrastructure, not one adapter from",
        "another; the reference node labels each adapter, vLLM does not.",
    )


def promote_staging(demo: Demo) -> None:
    demo.transcript.heading(6, "Promotion to staging is a pull request too")
    demo.say(
        "promote edits only support-bot's lines of environments/staging/environment.yaml",
        f"(comments kept), commits on a new branch{demo.signed(' (signed)')} and writes the",
        "pull-request body with the evidence. The checkout is left as it was.",
    )
    number = demo.open_pull_request()
    body = f"{PULL_REQUESTS}/{number}-promote-staging.md"
    demo.shell.adapterctl("promote", CANDIDATE, "--env", "staging", "--finish", *demo.sign(),
                          "--body-file", body)  # fmt: skip
    demo.shell.run(["cat", body], limit=40)
    demo.merge("promote/staging/support-bot-1.1.0", number)
    demo.transcript.command("unset GIT_AUTHOR_DATE GIT_COMMITTER_DATE")
    for name in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        demo.shell.env.pop(name, None)
    demo.transcript.takeaway(
        "Back to the present: staging has served 1.1.0 since a merge two days ago. The "
        "previous revision stays in the routes at weight 0, retained for a rollback."
    )


def sync_staging(demo: Demo) -> None:
    demo.transcript.heading(7, "Sync: the merged state reaches the staging node")
    demo.say(
        "The sync loads 1.1.0 before it unloads 1.0.0, so the alias never points at",
        "nothing; the retained 1.0.0 stays verified in the node's cache, without a slot.",
    )
    demo.sync("staging")
    demo.status("staging")
    demo.transcript.takeaway("Desired and actual agree: staging serves support-bot 1.1.0.")
