"""The routes of one alias after a promotion step or a rollback: pure functions.

A route with weight 0 and no tenant is *retained*: no traffic, but kept loadable so that a
rollback is a pointer change. A route with tenants is a *tenant canary*: the gateway sends
those tenants' requests to it whatever its weight (weight 0: only theirs). The active routes
come first, in their order, then the tenant-only ones, then the retained ones, most recently
active first; at most ``retain`` retained routes are kept.
"""

from __future__ import annotations

from typing import NamedTuple

from adapterctl.errors import InputError, UsageError


class Route(NamedTuple):
    version: str
    weight: int
    tenants: tuple[str, ...] = ()


Routes = tuple[Route, ...]
"""In file order."""


def describe(routes: Routes) -> str:
    """``1.0.0 90 %, 1.1.0 10 % + tenant acme, 0.9.0 retained`` (``none`` when not routed)."""
    return ", ".join(_describe(route) for route in routes) or "none"


def tenants_phrase(tenants: tuple[str, ...]) -> str:
    """``tenant acme`` / ``tenants acme, globex``."""
    return f"tenant{'s' * (len(tenants) > 1)} {', '.join(tenants)}"


def _describe(route: Route) -> str:
    tenants = tenants_phrase(route.tenants)
    if route.weight and route.tenants:
        return f"{route.version} {route.weight} % + {tenants}"
    if route.tenants:
        return f"{route.version} {tenants} only"
    return f"{route.version} {route.weight} %" if route.weight else f"{route.version} retained"


def active(routes: Routes) -> Routes:
    return tuple(route for route in routes if route.weight > 0)


def retained(routes: Routes) -> tuple[str, ...]:
    return tuple(route.version for route in routes if route.weight == 0 and not route.tenants)


def weight_of(routes: Routes, version: str) -> int:
    return next((route.weight for route in routes if route.version == version), 0)


def promote(
    routes: Routes,
    version: str,
    weight: int | None,
    *,
    retain: int,
    tenants: tuple[str, ...] | None = None,
) -> Routes:
    """The routes after routing ``version`` at ``weight`` % (``None``: all traffic, unless
    ``tenants`` are given: then only theirs). ``tenants`` None keeps the version's own."""
    if weight is None and not tenants:
        return _finish(routes, version, retain)
    if weight is not None and not 1 <= weight <= 99:
        raise UsageError(f"--weight {weight}: a canary weight is 1–99 (use --finish for 100 %)")
    if not active(routes):
        what = f"--weight {weight}" if weight is not None else "--tenant"
        raise UsageError(
            f"{what}: the alias serves nothing yet, so there is nothing to share "
            "traffic with; promote without --weight to route all of it"
        )
    routed = [route for route in routes if route.weight > 0 or route.tenants]
    others = [route for route in routed if route.version != version]
    if not any(route.weight > 0 for route in others):
        raise InputError(f"{version} already receives all of the alias's traffic")
    if len(others) > 1:  # another canary, by weight or by tenant, would lose its traffic
        raise InputError(
            f"the alias is already split between {describe(tuple(routed))}; "
            "finish or roll back that canary first"
        )
    main = others[0].version
    own = next((route.tenants for route in routes if route.version == version), ())
    share = weight if weight is not None else weight_of(routes, version)
    canary = Route(version, share, own if tenants is None else tenants)
    rest = tuple(Route(v, 0) for v in retained(routes) if v not in (version, main))
    return (Route(main, 100 - share), canary, *rest)


def _finish(routes: Routes, version: str, retain: int) -> Routes:
    """All traffic (every tenant's too) to ``version``; the others retained."""
    previous = [
        r.version for r in sorted(routes, key=lambda r: -r.weight) if r.weight > 0 or r.tenants
    ]
    candidates = [v for v in [*previous, *retained(routes)] if v != version]
    keep = list(dict.fromkeys(candidates))[:retain]
    return (Route(version, 100), *(Route(v, 0) for v in keep))


def restore(routes: Routes, version: str, *, retain: int) -> Routes:
    """``rollback --to VERSION``: all traffic to ``version``, the others retained."""
    return _finish(routes, version, retain)
