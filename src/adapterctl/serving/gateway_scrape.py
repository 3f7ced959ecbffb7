"""Reading the gateways' ``/metrics`` for triage: what vLLM's own metrics cannot say.

vLLM counts an adapter's requests under the base's ``model_name`` (DESIGN §5); the gateway
(``adapterctl gateway``, DESIGN §5a) labels each request with the revision it chose and the
node it sent it to. Read here, for one environment (the ``env`` label):

- ``adapterctl_gateway_requests_total{env, alias, version, tenant, node, code}``: requests,
  and as errors the ``code="5xx"`` ones (the node or the gateway failed them; ``4xx`` are
  the callers' own);
- ``adapterctl_gateway_request_duration_seconds``: the latency of the answered (< 400)
  requests, histogram;
- ``adapterctl_gateway_refused_total{env, code}``: requests the gateway answered itself, no
  revision chosen (shown, never judged).

Summed over gateways and tenants, per ``node`` label and served name ``<alias>@<version>``.
:func:`combine` then puts these numbers in the nodes' scrapes in place of the nodes' own
counts for adapter revisions (pure; the scraping is :func:`observe`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from adapterctl.serving.nodeconfig import Node
from adapterctl.serving.scrape import (
    ModelCounts,
    NodeScrape,
    Tally,
    failure,
    fetch,
    get_text,
    metrics_url,
    samples,
    since,
)

REQUESTS = "adapterctl_gateway_requests_total"
DURATION = "adapterctl_gateway_request_duration_seconds"
REFUSED = "adapterctl_gateway_refused_total"
GATEWAY = "gateway"
"""The source a node's counts get once a gateway's series are put in them."""

Cell = tuple[str, str]
"""(node, served name ``<alias>@<version>``)."""


@dataclass(frozen=True, slots=True)
class GatewayScrape:
    """What one gateway's ``/metrics`` said for one environment, or why it could not be read."""

    url: str
    cells: Mapping[Cell, ModelCounts] = field(default_factory=dict)
    """Per node and revision, summed over tenants."""
    refused: float = 0.0
    """Requests the gateway answered itself (no revision chosen)."""
    problem: str | None = None


def gateway_url(url: str) -> str:
    """A gateway's ``/metrics`` URL from its root (or ``/v1``) URL, or as given."""
    trimmed = url.rstrip("/")
    return trimmed if trimmed.endswith("/metrics") else metrics_url(trimmed)


def parse_gateway(text: str, env: str) -> tuple[dict[Cell, ModelCounts], float]:
    """The counts per (node, served name) for ``env``, and the requests it refused."""
    tallies: dict[Cell, Tally] = {}
    refused = 0.0
    for sample in samples(text):
        labels, value = sample.labels, sample.value
        if labels.get("env") != env:
            continue
        if sample.name == REFUSED:
            refused += value
            continue
        if not all(key in labels for key in ("alias", "version", "node")):
            continue
        cell = (labels["node"], f"{labels['alias']}@{labels['version']}")
        tally = tallies.setdefault(cell, Tally())
        if sample.name == REQUESTS:
            tally.requests += value
            if labels.get("code") == "5xx":
                tally.errors += value
        elif sample.name == f"{DURATION}_bucket" and "le" in labels:
            bound = float(labels["le"])
            tally.buckets[bound] = tally.buckets.get(bound, 0.0) + value
        elif sample.name == f"{DURATION}_sum":
            tally.total_s += value
        elif sample.name == f"{DURATION}_count":
            tally.count += value
    return {cell: tallies[cell].counts() for cell in sorted(tallies)}, refused


def fetch_gateway(url: str, env: str, timeout: float) -> GatewayScrape:
    """One gateway's series for ``env``; an unreachable gateway comes back with its problem."""
    url = gateway_url(url)
    try:
        text = get_text(url, None, timeout)
    except OSError as exc:
        return GatewayScrape(url, problem=failure(exc, timeout))
    cells, refused = parse_gateway(text, env)
    return GatewayScrape(url, cells, refused)


def gateway_since(after: GatewayScrape, before: GatewayScrape) -> GatewayScrape:
    """The counts observed between two scrapes of one gateway."""
    if after.problem is not None or before.problem is not None:
        return after
    cells = {cell: counts.minus(before.cells.get(cell)) for cell, counts in after.cells.items()}
    refused = after.refused - before.refused if after.refused >= before.refused else after.refused
    return GatewayScrape(after.url, cells, refused)


Scrapes = tuple[list[NodeScrape], list[GatewayScrape]]


def scrape_all(nodes: Sequence[Node], gateways: Sequence[str], env: str, timeout: float) -> Scrapes:
    """Every node's and every gateway's metrics, fetched concurrently, in the order given."""
    if not nodes and not gateways:
        return [], []
    with ThreadPoolExecutor(max_workers=min(32, len(nodes) + len(gateways))) as pool:
        from_nodes = [pool.submit(fetch, node, timeout) for node in nodes]
        from_gateways = [pool.submit(fetch_gateway, url, env, timeout) for url in gateways]
        return [f.result() for f in from_nodes], [f.result() for f in from_gateways]


def observe(
    nodes: Sequence[Node],
    gateways: Sequence[str],
    env: str,
    timeout: float,
    window: float = 0.0,
    wait: Callable[[float], None] = time.sleep,
) -> Scrapes:
    """Counts since each process started (``window`` 0), or over the next ``window`` seconds:
    the nodes and the gateways are scraped at the same moments."""
    first_nodes, first_gateways = scrape_all(nodes, gateways, env, timeout)
    if window <= 0:
        return first_nodes, first_gateways
    wait(window)
    after_nodes, after_gateways = scrape_all(nodes, gateways, env, timeout)
    return (
        [since(a, b) for a, b in zip(after_nodes, first_nodes, strict=True)],
        [gateway_since(a, b) for a, b in zip(after_gateways, first_gateways, strict=True)],
    )


# --- the gateways' numbers in the nodes' scrapes (pure) ---------------------------------


def pooled_cells(gateways: Sequence[GatewayScrape]) -> dict[Cell, ModelCounts]:
    """The readable gateways' counts, summed per (node, served name)."""
    total: dict[Cell, ModelCounts] = {}
    for gateway in gateways:
        if gateway.problem is not None:
            continue
        for cell, counts in gateway.cells.items():
            total[cell] = counts if cell not in total else plus(total[cell], counts)
    return dict(sorted(total.items()))


def plus(one: ModelCounts, other: ModelCounts) -> ModelCounts:
    mine, theirs = one.latency, other.latency
    latency = mine.plus(theirs) if mine and theirs else (mine or theirs)
    return ModelCounts(one.requests + other.requests, one.errors + other.errors, latency)


def without(base: ModelCounts, answered: ModelCounts) -> ModelCounts:
    """vLLM's count under the base's name less the revisions' requests the gateways had
    answered there (errors apart: a request the gateway saw fail may never have reached
    vLLM's count, and vLLM's own errors cannot be split)."""
    requests = max(0.0, base.requests - (answered.requests - answered.errors))
    latency = base.latency
    if latency is not None and answered.latency is not None:
        latency = latency.without(answered.latency)
    return ModelCounts(requests, min(base.errors, requests), latency)


def is_revision(name: str) -> bool:
    """An adapter revision's served name, ``<alias>@<version>``: what a gateway labels."""
    return "@" in name


def combine(nodes: Sequence[NodeScrape], gateways: Sequence[GatewayScrape]) -> list[NodeScrape]:
    """The nodes' scrapes with the gateways' per-revision numbers in place of the nodes' own
    revision counts; on a vLLM node the base keeps only its own traffic."""
    cells = pooled_cells(gateways)
    combined = []
    for node in nodes:
        mine = {name: counts for (where, name), counts in cells.items() if where == node.node}
        if node.problem is not None or not mine:
            combined.append(node)
            continue
        kept = {name: c for name, c in node.models.items() if not is_revision(name)}
        base = node.base or (next(iter(kept)) if len(kept) == 1 else None)
        if node.source == "vllm" and base in kept:
            kept[base] = without(kept[base], _total(mine.values()))
        source = GATEWAY if node.source == "none" else f"{node.source}+{GATEWAY}"
        models = {**kept, **mine}
        combined.append(NodeScrape(node.node, node.url, node.base, models, None, source))
    return combined


def unmatched(nodes: Sequence[NodeScrape], gateways: Sequence[GatewayScrape]) -> dict[str, float]:
    """Nodes the gateways name that no node scrape has: their requests, left out."""
    known = {node.node for node in nodes}
    left: dict[str, float] = {}
    for (where, _), counts in pooled_cells(gateways).items():
        if where not in known:
            left[where] = left.get(where, 0.0) + counts.requests
    return dict(sorted(left.items()))


def _total(counts: Iterable[ModelCounts]) -> ModelCounts:
    total = ModelCounts(0.0, 0.0)
    for one in counts:
        total = plus(total, one)
    return total
