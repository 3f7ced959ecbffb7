"""Reading the serving nodes' Prometheus ``/metrics``: fetch concurrently, parse, subtract.

Two vocabularies are understood, both labelled by served model name:

- the reference node's (``adapterctl serve``): ``adapterctl:requests_total{model}``,
  ``adapterctl:request_errors_total{model}`` and the histogram
  ``adapterctl:request_latency_seconds{model}``; ``model`` is the base's served name, an
  adapter's immutable ``<alias>@<version>``, or ``unknown`` for requests that named a model
  the node does not serve;
- vLLM's: ``vllm:request_success_total{model_name,finished_reason}`` (every finished
  request; those with ``finished_reason="error"`` count as errors) and the histogram
  ``vllm:e2e_request_latency_seconds{model_name}``. vLLM sets ``model_name`` to the base's
  served name for LoRA requests too, so a vLLM node shows no per-adapter split.

When a node exposes both, the reference node's series are used. The text format is parsed
here (no ``prometheus_client``: it is only installed with the ``serve`` extra). The
gateways' per-revision series are read by ``adapterctl.serving.gateway_scrape``.
"""

from __future__ import annotations

import math
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from adapterctl.serving.nodeconfig import Node

UNKNOWN_MODEL = "unknown"
"""The reference node's label for requests naming a model it does not serve."""


@dataclass(frozen=True, slots=True)
class Latency:
    """A latency histogram: cumulative counts at ascending upper bounds (the last is +Inf)."""

    buckets: tuple[tuple[float, float], ...]
    total_s: float | None
    """The sum of the latencies (None: not known, see :meth:`without`)."""
    count: float

    @property
    def mean_s(self) -> float | None:
        if self.total_s is None or self.count <= 0:
            return None
        return self.total_s / self.count

    def quantile(self, q: float) -> float | None:
        """Like PromQL's ``histogram_quantile``: linear within the bucket holding rank q."""
        if self.count <= 0 or not self.buckets:
            return None
        rank, lower, below = q * self.buckets[-1][1], 0.0, 0.0
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(bound):
                    return lower
                inside = cumulative - below
                return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
            lower, below = bound, cumulative
        return lower

    def plus(self, other: Latency) -> Latency:
        """Both histograms pooled, at the bounds they share."""
        mine, theirs = dict(self.buckets), dict(other.buckets)
        shared = sorted(set(mine) & set(theirs))
        buckets = tuple((bound, mine[bound] + theirs[bound]) for bound in shared)
        return Latency(buckets, _sum(self.total_s, other.total_s, 1), self.count + other.count)

    def without(self, part: Latency) -> Latency:
        """This histogram less ``part`` (requests it also counted, measured elsewhere), at the
        bounds they share, never below zero and still cumulative. The sum is left unknown:
        where ``part`` was measured in front of this (a gateway before a node), it counts
        more time per request, and the difference of the sums would be biased low."""
        theirs = dict(part.buckets)
        buckets, highest = [], 0.0
        for bound, cumulative in self.buckets:
            if bound in theirs:
                highest = max(highest, cumulative - theirs[bound])
                buckets.append((bound, highest))
        count = max(0.0, self.count - part.count)
        return Latency(tuple(buckets), None, count)

    def minus(self, before: Latency) -> Latency:
        """What was observed since ``before`` (a reset counter counts from zero)."""
        if before.count > self.count:
            return self
        earlier = dict(before.buckets)
        buckets = tuple((bound, count - earlier.get(bound, 0.0)) for bound, count in self.buckets)
        return Latency(buckets, _sum(self.total_s, before.total_s, -1), self.count - before.count)


def _sum(one: float | None, other: float | None, sign: int) -> float | None:
    return None if one is None or other is None else one + sign * other


@dataclass(frozen=True, slots=True)
class ModelCounts:
    """One served model's counters on one node."""

    requests: float
    errors: float
    latency: Latency | None = None

    def minus(self, before: ModelCounts | None) -> ModelCounts:
        if before is None or before.requests > self.requests:
            return self
        latency = self.latency
        if latency is not None and before.latency is not None:
            latency = latency.minus(before.latency)
        return ModelCounts(self.requests - before.requests, self.errors - before.errors, latency)


@dataclass(frozen=True, slots=True)
class NodeScrape:
    """What one node's ``/metrics`` said, or why it could not be read."""

    node: str
    url: str
    base: str | None
    """The base's served name from the node configuration (None: not configured)."""
    models: Mapping[str, ModelCounts] = field(default_factory=dict)
    problem: str | None = None
    source: str = "none"
    """Which vocabulary the counts came from: adapterctl, vllm or none."""


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    source: str
    label: str
    requests: str
    errors: str | None
    latency: str


_VOCABULARIES = (
    _Vocabulary(
        "adapterctl",
        "model",
        "adapterctl:requests_total",
        "adapterctl:request_errors_total",
        "adapterctl:request_latency_seconds",
    ),
    _Vocabulary(
        "vllm", "model_name", "vllm:request_success_total", None, "vllm:e2e_request_latency_seconds"
    ),
)


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


_LINE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def samples(text: str) -> Iterator[Sample]:
    """The samples of a Prometheus text (or OpenMetrics) exposition; comments skipped."""
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match is None or line.startswith("#"):
            continue
        name, labels, value = match.groups()
        try:
            number = float(value)
        except ValueError:
            continue
        yield Sample(name, _labels(labels or ""), number)


def _labels(text: str) -> dict[str, str]:
    return {
        key: re.sub(r"\\[\\\"n]", lambda m: _ESCAPES[m.group()], value)
        for key, value in _LABEL.findall(text)
    }


def parse(text: str) -> tuple[str, dict[str, ModelCounts]]:
    """The vocabulary found and the counts per served model name."""
    found = list(samples(text))
    names = {sample.name for sample in found}
    for vocabulary in _VOCABULARIES:
        if vocabulary.requests in names or f"{vocabulary.latency}_count" in names:
            return vocabulary.source, _counts(found, vocabulary)
    return "none", {}


@dataclass(slots=True)
class Tally:
    """One served model's samples, added up as they are read."""

    requests: float = 0.0
    errors: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)
    total_s: float = 0.0
    count: float = 0.0

    def counts(self) -> ModelCounts:
        ordered = tuple(sorted(self.buckets.items()))
        latency = Latency(ordered, self.total_s, self.count) if ordered else None
        return ModelCounts(self.requests, self.errors, latency)


def _counts(found: Sequence[Sample], vocabulary: _Vocabulary) -> dict[str, ModelCounts]:
    tallies: dict[str, Tally] = {}
    for sample in found:
        model = sample.labels.get(vocabulary.label)
        if model is not None:
            _add(tallies.setdefault(model, Tally()), sample, vocabulary)
    return {model: tally.counts() for model, tally in tallies.items()}


def _add(tally: Tally, sample: Sample, vocabulary: _Vocabulary) -> None:
    name, value = sample.name, sample.value
    if name == vocabulary.requests:
        tally.requests += value
        if vocabulary.errors is None and sample.labels.get("finished_reason") == "error":
            tally.errors += value
    elif name == vocabulary.errors:
        tally.errors += value
    elif name == f"{vocabulary.latency}_bucket" and "le" in sample.labels:
        bound = float(sample.labels["le"])
        tally.buckets[bound] = tally.buckets.get(bound, 0.0) + value
    elif name == f"{vocabulary.latency}_sum":
        tally.total_s += value
    elif name == f"{vocabulary.latency}_count":
        tally.count += value


def metrics_url(endpoint: str) -> str:
    """``/metrics`` at the server root: the API endpoint without its trailing ``/v1``."""
    return f"{endpoint.rstrip('/').removesuffix('/v1')}/metrics"


def fetch(node: Node, timeout: float) -> NodeScrape:
    """One node's metrics; an unreachable node comes back with its problem."""
    url = metrics_url(node.endpoint)
    base = node.config.base.served_name
    try:
        text = get_text(url, node.api_key, timeout)
    except OSError as exc:  # URLError, HTTPError, timeouts, refused connections
        return NodeScrape(node.name, url, base, problem=failure(exc, timeout))
    source, models = parse(text)
    return NodeScrape(node.name, url, base, models, None, source)


def get_text(url: str, api_key: str | None, timeout: float) -> str:
    """The body of a GET (raises OSError: URLError, HTTPError, timeouts)."""
    headers = {"Accept": "text/plain"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body: bytes = response.read()
    return body.decode("utf-8", errors="replace")


def failure(exc: OSError, timeout: float) -> str:
    """Why a GET failed, in words: ``HTTP 503 …``, ``no answer within 5 s``, ``unreachable: …``."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    reason: object = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(reason, OSError) and reason.strerror:
        return f"unreachable: {reason.strerror.lower()}"
    return f"unreachable: {reason}"


def scrape(nodes: Sequence[Node], timeout: float) -> list[NodeScrape]:
    """Every node's metrics, fetched concurrently, in the order of ``nodes``."""
    if not nodes:
        return []
    with ThreadPoolExecutor(max_workers=min(32, len(nodes))) as pool:
        return list(pool.map(lambda node: fetch(node, timeout), nodes))


def since(after: NodeScrape, before: NodeScrape) -> NodeScrape:
    """The counts observed between two scrapes of one node."""
    if after.problem is not None or before.problem is not None:
        return after
    models = {name: counts.minus(before.models.get(name)) for name, counts in after.models.items()}
    return NodeScrape(after.node, after.url, after.base, models, None, after.source)


def observe(
    nodes: Sequence[Node],
    timeout: float,
    window: float = 0.0,
    wait: Callable[[float], None] = time.sleep,
) -> list[NodeScrape]:
    """Counts since each node started (``window`` 0), or over the next ``window`` seconds."""
    first = scrape(nodes, timeout)
    if window <= 0:
        return first
    wait(window)
    return [
        since(after, before) for after, before in zip(scrape(nodes, timeout), first, strict=True)
    ]
