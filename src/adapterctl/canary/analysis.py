"""A canary analysis: ``count`` measurements of ``interval`` each, judged one by one, then
Argo Rollouts' rule: **Failed** past ``failure_limit`` failed measurements, else
**Inconclusive** past ``inconclusive_limit`` inconclusive ones, else **Successful**.

From Prometheus the windows are the last ``count`` intervals up to now (history: nothing
to wait for). From a direct scrape there is no history: the analysis snapshots the
gateways, waits one interval per measurement, and stops early once it has Failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from adapterctl import layout
from adapterctl.canary.judge import Pair, Phase, in_window, judge, phase
from adapterctl.canary.sources import Prometheus, Scrape, Versions, difference, queries
from adapterctl.canary.traffic import Traffic, traffic
from adapterctl.durations import parse_duration
from adapterctl.errors import InputError, UsageError
from adapterctl.findings import Finding, Location
from adapterctl.model import Environment
from adapterctl.model.analysis import Analysis
from adapterctl.registry import Registry
from adapterctl.semver import route_key_order


@dataclass(frozen=True)
class Target:
    """What an analysis compares, and by which settings."""

    env: str
    alias: str
    pair: Pair
    analysis: Analysis
    where: Location
    """The environment's ``analysis`` (or its routes, when it has none)."""

    @property
    def seconds(self) -> int:
        return max(1, int(parse_duration(self.analysis.interval).total_seconds()))


def target(root: Path, env: str, alias: str, canary: str | None = None) -> Target:
    """The canary and stable revisions of ``alias`` in ``env`` (the working tree at
    ``root``), and the environment's analysis settings (the defaults when it has none)."""
    layout.check_env_name(env)
    registry = Registry.load(root)
    path = layout.environment_path(env)
    environment = registry.environment(env)
    if environment is None:
        if not registry.exists(path):
            raise UsageError(f"unknown environment '{env}': {path} does not exist")
        raise InputError(f"{path} is not a valid environment; run adapterctl validate {path}")
    pair = _pair(environment, env, alias, canary)
    settings = environment.analysis
    where = registry.locate(path, ("analysis",) if settings else ("routes", alias))
    return Target(env, alias, pair, settings or Analysis(), where)


def _pair(environment: Environment, env: str, alias: str, canary: str | None) -> Pair:
    routes = environment.routes.get(alias)
    if routes is None:
        raise UsageError(f"{alias} is not routed in {env}")
    routed = sorted((r for r in routes if r.weight > 0 or r.tenants),
                    key=lambda r: route_key_order(r.key))  # fmt: skip
    stable = max(routed, key=lambda r: r.weight)  # the oldest of equal weights
    others = [r for r in routed if r is not stable]
    if canary is None:
        if not others:
            raise UsageError(f"{alias} has no canary in {env}: {stable.key} serves 100 %")
        canary = others[-1].key
    elif canary not in {r.key for r in others}:
        raise UsageError(f"{alias}@{canary} is not a canary in {env}")
    return Pair(layout.served_name(alias, canary), layout.served_name(alias, stable.key), alias)


@dataclass(frozen=True)
class Window:
    index: int
    count: int
    start: float
    end: float

    @property
    def label(self) -> str:
        def clock(stamp: float) -> str:
            return datetime.fromtimestamp(stamp, UTC).strftime("%H:%M:%S")

        return f"window {self.index} of {self.count} ({clock(self.start)}–{clock(self.end)} UTC)"


@dataclass(frozen=True)
class Measurement:
    window: Window
    canary: Traffic
    stable: Traffic
    findings: tuple[Finding, ...]

    @property
    def phase(self) -> Phase:
        return phase(self.findings)


@dataclass(frozen=True)
class Result:
    target: Target
    source: str
    queries: tuple[str, ...]
    """The PromQL that was run (empty for a scrape)."""
    measurements: tuple[Measurement, ...]

    @property
    def phase(self) -> Phase:
        """Argo Rollouts' rule over the measurements."""
        phases = [m.phase for m in self.measurements]
        if phases.count(Phase.FAILED) > self.target.analysis.failure_limit:
            return Phase.FAILED
        inconclusive = phases.count(Phase.INCONCLUSIVE)
        if inconclusive > self.target.analysis.inconclusive_limit or not phases:
            return Phase.INCONCLUSIVE
        return Phase.SUCCESSFUL

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for m in self.measurements for f in m.findings)

    @property
    def reason(self) -> str:
        """The verdict and why: ``Failed: 1 of 3 windows failed (failure_limit 0)``."""
        settings = self.target.analysis
        phases = [m.phase for m in self.measurements]
        failed, undecided = phases.count(Phase.FAILED), phases.count(Phase.INCONCLUSIVE)
        done = f"of {len(phases)} window{'s' if len(phases) != 1 else ''}"
        limits = (f"failure_limit {settings.failure_limit}, "
                  f"inconclusive_limit {settings.inconclusive_limit}")  # fmt: skip
        if self.phase is Phase.FAILED:
            return f"Failed: {failed} {done} failed ({limits})"
        if self.phase is Phase.INCONCLUSIVE:
            return f"Inconclusive: {undecided} {done} inconclusive ({limits})"
        return f"Successful: {failed} {done} failed, {undecided} inconclusive ({limits})"


def from_prometheus(subject: Target, prometheus: Prometheus, at: float) -> Result:
    """The last ``count`` windows up to ``at`` (unix seconds), read from Prometheus."""
    seconds, count = subject.seconds, subject.analysis.count
    at = round(at, 3)  # Prometheus' resolution: the windows' ends are the ones it answers for
    ends = [at - (count - 1 - i) * seconds for i in range(count)]
    versions = subject.pair.versions
    found = prometheus.windows(subject.env, subject.alias, versions, ends, seconds)
    measurements = tuple(
        _measure(subject, Window(i + 1, count, end - seconds, end), versions)
        for i, (end, versions) in enumerate(zip(ends, found.values(), strict=True))
    )
    promql = tuple(q.promql for q in queries(subject.env, subject.alias, seconds, versions))
    return Result(subject, f"Prometheus at {prometheus.url}", promql, measurements)


def from_scrape(
    subject: Target,
    scrape: Scrape,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> Result:
    """``count`` windows measured now, one interval each, from the gateways' /metrics."""
    seconds, count = subject.seconds, subject.analysis.count
    before, start = scrape.snapshot(subject.env, subject.alias), clock()
    measurements: list[Measurement] = []
    for index in range(1, count + 1):
        sleep(max(0.0, start + seconds - clock()))
        after, end = scrape.snapshot(subject.env, subject.alias), clock()
        window = Window(index, count, start, end)
        measurements.append(_measure(subject, window, difference(after, before)))
        before, start = after, end
        failed = [m for m in measurements if m.phase is Phase.FAILED]
        if len(failed) > subject.analysis.failure_limit:
            break
    gateways = len(scrape.urls)
    source = f"a scrape of {gateways} gateway{'s' if gateways != 1 else ''}"
    return Result(subject, source, (), tuple(measurements))


def _measure(subject: Target, window: Window, versions: Versions) -> Measurement:
    canary = traffic(versions.get(subject.pair.versions[1], {}))
    stable = traffic(versions.get(subject.pair.versions[0], {}))
    found = judge(subject.pair, canary, stable, subject.analysis, subject.where)
    return Measurement(window, canary, stable, in_window(found, window.label))
