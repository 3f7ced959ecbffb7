"""Where the canary judge reads the gateway's series from.

- **Prometheus** (its HTTP API): one ``query_range`` per series over all windows at once,
  ``sum by (version, …) (increase(…[interval]))`` evaluated at each window's end; the
  queries are part of the report, so a person can paste them into Prometheus.
- **A direct scrape** of every gateway replica's ``/metrics`` when no Prometheus is
  configured: a snapshot at the start of each window and one at its end, differenced
  (a counter that went down was reset by a restart: its new value is the increase).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from adapterctl.canary.traffic import DURATION, HISTOGRAMS, REQUESTS, TOKENS, Key
from adapterctl.errors import InputError

TIMEOUT_S = 30.0
MAX_ANSWER = 64 * 1024 * 1024
Versions = dict[str, dict[Key, float]]
"""Version → its counters."""


class SourceError(InputError):
    """The metrics could not be read: the analysis cannot pass."""


@dataclass(frozen=True)
class Query:
    key: str
    """``requests``, ``duration``, ``ttft``, ``tokens`` or ``tokens_sum``."""
    promql: str


def queries(env: str, alias: str, seconds: int, versions: Sequence[str] = ()) -> list[Query]:
    """The PromQL the analysis runs, each grouped by version; with ``versions``, only those
    (Prometheus then reads two revisions' samples, not every revision's of the alias)."""
    only = "|".join(re.escape(v).replace("\\", "\\\\") for v in versions)
    match = f'{{env="{env}", alias="{alias}"' + (f', version=~"{only}"' if versions else "") + "}"
    window = f"[{seconds}s]"
    found = [Query("requests", f"sum by (version, code) (increase({REQUESTS}{match}{window}))")]
    for key, name in HISTOGRAMS.items():
        found.append(Query(key, f"sum by (version, le) (increase({name}_bucket{match}{window}))"))
    found.append(Query("tokens_sum", f"sum by (version) (increase({TOKENS}_sum{match}{window}))"))
    return found


@dataclass(frozen=True)
class Prometheus:
    url: str

    def windows(
        self, env: str, alias: str, versions: Sequence[str], ends: Sequence[float], seconds: int
    ) -> dict[float, Versions]:
        """Each window end (unix seconds, evenly spaced by ``seconds``; kept to the
        millisecond, as Prometheus answers) → the counters of ``versions``. The queries run
        at once (Prometheus evaluates them in parallel)."""
        ms = [round(end * 1000) for end in ends]
        found: dict[int, Versions] = {end: defaultdict(dict) for end in ms}
        asked = queries(env, alias, seconds, versions)

        def run(query: Query) -> list[Series]:
            return self._range(query.promql, ms[0] / 1000, ms[-1] / 1000, seconds)

        with ThreadPoolExecutor(len(asked)) as pool:
            answers = list(pool.map(run, asked))
        for query, answer in zip(asked, answers, strict=True):
            for labels, values in answer:
                key = _key(query.key, labels)
                for stamp, value in values:
                    end = round(stamp * 1000)
                    if end in found and "version" in labels:
                        found[end][labels["version"]][key] = value
        return {end / 1000: dict(versions) for end, versions in found.items()}

    def _range(self, promql: str, start: float, end: float, step: int) -> list[Series]:
        params = urllib.parse.urlencode({"query": promql, "start": f"{start:.3f}",
                                         "end": f"{end:.3f}", "step": f"{step}s"})  # fmt: skip
        url = f"{self.url.rstrip('/')}/api/v1/query_range?{params}"
        document = _get_json(url, f"Prometheus at {self.url}")
        if document.get("status") != "success":
            raise SourceError(f"Prometheus at {self.url} refused {promql}: "
                              f"{document.get('error', 'no reason given')}")  # fmt: skip
        data = document.get("data")
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, list):
            raise SourceError(f"Prometheus at {self.url} answered {promql} without a result")
        try:
            return [_series(item) for item in result]
        except (TypeError, ValueError, KeyError, AttributeError):
            raise SourceError(f"Prometheus at {self.url} answered {promql} with a malformed "
                              "matrix") from None  # fmt: skip


Series = tuple[dict[str, str], list[tuple[float, float]]]


def _series(item: dict[str, object]) -> Series:
    metric = item["metric"]
    values = item["values"]
    if not isinstance(metric, dict) or not isinstance(values, list):
        raise TypeError("not a matrix series")
    labels = {str(k): str(v) for k, v in metric.items()}
    return labels, [(float(stamp), float(value)) for stamp, value in values]


def _key(kind: str, labels: dict[str, str]) -> Key:
    if kind == "requests":
        return ("requests", labels.get("code", "unknown"))
    if kind == "tokens_sum":
        return ("tokens", "sum")
    return (kind, labels.get("le", "+Inf"))


@dataclass(frozen=True)
class Scrape:
    """Every gateway replica's ``/metrics``, summed."""

    urls: tuple[str, ...]

    def snapshot(self, env: str, alias: str) -> Versions:
        total: Versions = defaultdict(dict)
        for url in self.urls:
            for version, counters in _parse(_get_text(url), env, alias).items():
                for key, value in counters.items():
                    total[version][key] = total[version].get(key, 0.0) + value
        return dict(total)


def difference(after: Versions, before: Versions) -> Versions:
    """How much each counter grew between two snapshots (a reset counts from zero)."""
    grown: Versions = {}
    for version, counters in after.items():
        earlier = before.get(version, {})
        grown[version] = {
            key: value - earlier.get(key, 0.0) if value >= earlier.get(key, 0.0) else value
            for key, value in counters.items()
        }
    return grown


_SAMPLES = {
    REQUESTS: "requests",
    f"{DURATION}_bucket": "duration",
    f"{HISTOGRAMS['ttft']}_bucket": "ttft",
    f"{TOKENS}_bucket": "tokens",
    f"{TOKENS}_sum": "tokens_sum",
}


def _parse(text: str, env: str, alias: str) -> Versions:
    found: Versions = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            kind = _SAMPLES.get(sample.name)
            labels = sample.labels
            if kind is None or labels.get("env") != env or labels.get("alias") != alias:
                continue
            key = _key(kind, labels)
            counters = found[labels["version"]]
            counters[key] = counters.get(key, 0.0) + float(sample.value)
    return dict(found)


def _get_text(url: str) -> str:
    return _get(url, f"the gateway at {url}").decode("utf-8", "replace")


def _get_json(url: str, what: str) -> dict[str, object]:
    body = _get(url, what, allow_error=True)
    try:
        document = json.loads(body)
    except ValueError:
        raise SourceError(f"{what} did not answer JSON") from None
    if not isinstance(document, dict):
        raise SourceError(f"{what} did not answer a JSON object")
    return document


def _get(url: str, what: str, *, allow_error: bool = False) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as answer:
            return bytes(answer.read(MAX_ANSWER))
    except urllib.error.HTTPError as exc:
        if allow_error and exc.code in (400, 422, 503):
            return bytes(exc.read(MAX_ANSWER))
        raise SourceError(f"{what} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceError(f"{what} is unreachable: {reason}") from None
