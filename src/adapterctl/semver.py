"""Ordering semantic versions (https://semver.org) by precedence."""

from __future__ import annotations

SemverKey = tuple[int, int, int, int, tuple[tuple[int, int, str], ...], str]


def names_a_base(key: str) -> bool:
    """Whether a route's key (an environment's ``version`` or ``base``) names a base served as
    a model of its own (``NAME@REVISION``) rather than an adapter version: a semantic version
    never holds '@'."""
    return "@" in key


def route_key_order(key: str) -> tuple[int, SemverKey]:
    """Sort key of a route's key: adapter versions by precedence, then bases served as models
    of their own (``NAME@REVISION``, merged from the line: newer than its revisions)."""
    if names_a_base(key):
        return 1, (0, 0, 0, 0, (), key)
    return 0, semver_key(key)


def semver_key(version: str) -> SemverKey:
    """Sort key of a semantic version by precedence (a pre-release before its release)."""
    core, _, pre = version.partition("+")[0].partition("-")
    major, minor, patch = (int(part) for part in core.split("."))
    ids = tuple((0, int(x), "") if x.isdigit() else (1, 0, x) for x in pre.split(".") if pre)
    return major, minor, patch, 0 if pre else 1, ids, version
