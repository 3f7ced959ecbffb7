"""The gateway's choice of a revision and of a tenant, without I/O (adapterctl.gateway.routing,
adapterctl.gateway.callers); tests/test_gateway.py runs the gateway itself."""

from __future__ import annotations

import hashlib
import ipaddress
from collections import Counter
from pathlib import Path

import pytest

from adapterctl.errors import InputError
from adapterctl.gateway.callers import UNAUTHORIZED, Caller, Callers, load_keys
from adapterctl.gateway.routing import Refusal, RouteTable, Target, choose

CALLERS = [f"user:{n}".encode() for n in range(4000)]


def table(*targets: Target) -> RouteTable:
    aliases: dict[str, tuple[Target, ...]] = {}
    for target in targets:
        aliases[target.alias] = (*aliases.get(target.alias, ()), target)
    named = {t.served_name: t for t in targets}
    return RouteTable("prod", "c0ffee", aliases, named)


def split(canary: int, tenants: tuple[str, ...] = ()) -> RouteTable:
    return table(
        Target("support-bot", "1.1.0", canary, tenants),
        Target("support-bot", "1.0.0", 100 - canary, ()),
    )


def everywhere(name: str) -> bool:
    return bool(name)


def version(result: Target | Refusal) -> str:
    assert isinstance(result, Target), result
    return result.version


def shares(routes: RouteTable, served: object = everywhere) -> Counter[str]:
    assert callable(served)
    return Counter(version(choose(routes, "support-bot", c, None, served)) for c in CALLERS)


def test_split_converges_to_the_weights() -> None:
    counts = shares(split(10))
    # 4000 callers at 10 %: a binomial's 4-sigma band is ±76
    assert abs(counts["1.1.0"] - 400) < 76, counts


def test_a_caller_stays_on_its_revision() -> None:
    routes = split(50)
    first = [version(choose(routes, "support-bot", c, None, everywhere)) for c in CALLERS[:200]]
    again = [version(choose(routes, "support-bot", c, None, everywhere)) for c in CALLERS[:200]]
    assert first == again
    assert set(first) == {"1.0.0", "1.1.0"}


def test_expanding_a_canary_keeps_its_callers() -> None:
    def on_canary(weight: int) -> set[bytes]:
        routes = split(weight)
        return {c for c in CALLERS if version(choose(routes, "support-bot", c, None, everywhere))
                == "1.1.0"}  # fmt: skip

    at_10, at_25, at_50 = on_canary(10), on_canary(25), on_canary(50)
    assert at_10 < at_25 < at_50


def test_the_split_differs_between_aliases() -> None:
    both = table(
        Target("support-bot", "1.1.0", 50, ()),
        Target("support-bot", "1.0.0", 50, ()),
        Target("sql-helper", "1.1.0", 50, ()),
        Target("sql-helper", "1.0.0", 50, ()),
    )
    bot = [version(choose(both, "support-bot", c, None, everywhere)) for c in CALLERS[:400]]
    sql = [version(choose(both, "sql-helper", c, None, everywhere)) for c in CALLERS[:400]]
    assert bot != sql  # one caller is not a canary user of every alias at once


def test_an_unloaded_revision_gives_its_share_to_the_others() -> None:
    counts = shares(split(10), "support-bot@1.1.0".__ne__)
    assert counts == Counter({"1.0.0": len(CALLERS)})


def test_nothing_loaded_is_503_in_vllms_shape() -> None:
    assert choose(split(10), "support-bot", None, None, "".__eq__) == Refusal(
        503, "ServiceUnavailableError", "No healthy node serves `support-bot`; try again later."
    )


def test_pinned_revision_and_unknown_models() -> None:
    routes = split(10)
    assert version(choose(routes, "support-bot@1.0.0", CALLERS[0], None, everywhere)) == "1.0.0"
    assert choose(routes, "support-bot@1.2.0", None, None, everywhere) == Refusal(
        404, "NotFoundError", "The model `support-bot@1.2.0` does not exist."
    )
    assert choose(routes, "sql-helper", None, None, everywhere) == Refusal(
        404, "NotFoundError", "The model `sql-helper` does not exist."
    )


def test_a_tenant_gets_its_revision_and_only_it_does() -> None:
    routes = split(0, tenants=("acme",))
    acme = {version(choose(routes, "support-bot", c, "acme", everywhere)) for c in CALLERS[:200]}
    other = {version(choose(routes, "support-bot", c, "globex", everywhere)) for c in CALLERS}
    assert (acme, other) == ({"1.1.0"}, {"1.0.0"})


def test_a_tenant_whose_revision_is_not_loaded_gets_the_split() -> None:
    routes = split(0, tenants=("acme",))
    result = choose(routes, "support-bot", CALLERS[0], "acme", lambda n: n.endswith("1.0.0"))
    assert version(result) == "1.0.0"


def test_a_caller_without_identity_still_follows_the_weights() -> None:
    counts = Counter(version(choose(split(30), "support-bot", None, None, everywhere))
                     for _ in range(2000))  # fmt: skip
    assert abs(counts["1.1.0"] - 600) < 82, counts  # 4 sigma of Binomial(2000, 0.3)


# --- callers ----------------------------------------------------------------------------

KEY = b"sk-acme-1"
KEYS = {hashlib.sha256(KEY).hexdigest(): "acme"}
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def headers(**values: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in values.items()]


def test_with_a_key_file_the_key_names_the_tenant() -> None:
    rules = Callers(KEYS, b"x-session-id")
    digest = hashlib.sha256(KEY).hexdigest()
    assert rules.identify(headers(authorization="Bearer sk-acme-1"), "10.1.1.1", None) == Caller(
        "acme", f"key:{digest}".encode()
    )
    assert rules.identify(headers(authorization="Bearer sk-wrong"), "10.1.1.1", None) is (
        UNAUTHORIZED
    )
    assert rules.identify([], "10.1.1.1", None) is UNAUTHORIZED
    assert (UNAUTHORIZED.status, UNAUTHORIZED.type, UNAUTHORIZED.message) == (
        401, "AuthenticationError", "Unauthorized: a valid API key is required.",
    )  # fmt: skip


def test_the_session_then_the_user_field_decide_stickiness() -> None:
    rules = Callers(None, b"x-session-id")
    assert rules.identify(headers(x_session_id="s-1"), None, "u-1") == Caller(None, b"s-1")
    assert rules.identify([], None, "u-1") == Caller(None, b"user:u-1")
    assert rules.identify([], None, None) == Caller(None, None)


def test_a_tenant_header_counts_only_from_a_trusted_proxy() -> None:
    rules = Callers(None, b"x-session-id", b"x-tenant", LOOPBACK)
    sent = headers(x_tenant="acme")
    assert rules.identify(sent, "127.0.0.1", None).tenant == "acme"  # type: ignore[union-attr]
    assert rules.identify(sent, "203.0.113.9", None).tenant is None  # type: ignore[union-attr]
    assert rules.identify(sent, None, None).tenant is None  # type: ignore[union-attr]


def test_a_key_file_with_a_key_of_two_tenants(tmp_path: Path) -> None:
    digest = "sha256:" + hashlib.sha256(KEY).hexdigest()
    path = tmp_path / "keys.yaml"
    path.write_text(f"tenants:\n  acme: ['{digest}']\n  globex: ['{digest}']\n")
    with pytest.raises(InputError) as raised:
        load_keys(path)
    assert raised.value.message == (
        f"{path}:3 $.tenants.globex: {digest} is listed for acme and for globex"
    )


def test_a_key_file_with_a_key_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("tenants:\n  acme:\n    - sk-acme-1\n")
    with pytest.raises(InputError) as raised:
        load_keys(path)
    assert raised.value.message == (
        f"{path}:3 $.tenants.acme[0]: 'sk-acme-1' is not a digest: expected 'sha256:' "
        "followed by 64 lower-case hex digits"
    )
