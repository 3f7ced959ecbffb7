"""The route arithmetic of promotion steps, and the line-preserving edit, as pure functions."""

from __future__ import annotations

import pytest

from adapterctl.errors import InputError, UsageError
from adapterctl.gitops import steps
from adapterctl.gitops.edit import set_routes


@pytest.mark.parametrize(
    ("before", "version", "weight", "retain", "after"),
    [
        ((("1.0.0", 100),), "1.1.0", 10, 1, (("1.0.0", 90), ("1.1.0", 10))),
        ((("1.0.0", 90), ("1.1.0", 10)), "1.1.0", 50, 1, (("1.0.0", 50), ("1.1.0", 50))),
        ((("1.0.0", 90), ("1.1.0", 10)), "1.1.0", None, 1, (("1.1.0", 100), ("1.0.0", 0))),
        ((), "1.0.0", None, 1, (("1.0.0", 100),)),
        # finishing retains the one that served before, newest first, at most `retain`
        ((("1.1.0", 100), ("1.0.0", 0)), "1.2.0", None, 1, (("1.2.0", 100), ("1.1.0", 0))),
        (
            (("1.1.0", 100), ("1.0.0", 0)),
            "1.2.0",
            None,
            2,
            (("1.2.0", 100), ("1.1.0", 0), ("1.0.0", 0)),
        ),
        # a canary keeps the retained revisions; a retained revision can come back
        (
            (("1.1.0", 100), ("1.0.0", 0)),
            "1.2.0",
            10,
            1,
            (("1.1.0", 90), ("1.2.0", 10), ("1.0.0", 0)),
        ),
        ((("1.1.0", 100), ("1.0.0", 0)), "1.0.0", None, 1, (("1.0.0", 100), ("1.1.0", 0))),
    ],
)
def test_promotion_steps(
    before: steps.Routes,
    version: str,
    weight: int | None,
    retain: int,
    after: steps.Routes,
) -> None:
    assert steps.promote(_r(before), version, weight, retain=retain) == _r(after)


def _r(routes: tuple[tuple[str, int] | tuple[str, int, tuple[str, ...]], ...]) -> steps.Routes:
    return tuple(steps.Route(*route) for route in routes)


@pytest.mark.parametrize(
    ("before", "version", "weight", "tenants", "after"),
    [
        # a tenant-only canary: the tenant's requests, no share of the others'
        ((("1.0.0", 100),), "1.1.0", None, ("acme",), (("1.0.0", 100), ("1.1.0", 0, ("acme",)))),
        # weight and tenants in one step
        ((("1.0.0", 100),), "1.1.0", 10, ("acme",), (("1.0.0", 90), ("1.1.0", 10, ("acme",)))),
        # growing a tenant canary keeps its tenants; new ones replace them
        ((("1.0.0", 100), ("1.1.0", 0, ("acme",))), "1.1.0", 25, None,
         (("1.0.0", 75), ("1.1.0", 25, ("acme",)))),
        ((("1.0.0", 90), ("1.1.0", 10, ("acme",))), "1.1.0", None, ("globex",),
         (("1.0.0", 90), ("1.1.0", 10, ("globex",)))),
        # finishing routes every tenant: the tenants go, the previous revision is retained
        ((("1.0.0", 90), ("1.1.0", 10, ("acme",))), "1.1.0", None, None,
         (("1.1.0", 100), ("1.0.0", 0))),
        # a rollback to the stable one retains the tenant canary without its tenants
        ((("1.0.0", 100), ("1.1.0", 0, ("acme",))), "1.0.0", None, None,
         (("1.0.0", 100), ("1.1.0", 0))),
    ],
)  # fmt: skip
def test_tenant_canaries(
    before: tuple[tuple[str, int, tuple[str, ...]], ...],
    version: str,
    weight: int | None,
    tenants: tuple[str, ...] | None,
    after: tuple[tuple[str, int, tuple[str, ...]], ...],
) -> None:
    assert steps.promote(_r(before), version, weight, retain=1, tenants=tenants) == _r(after)


def test_describe_names_tenant_canaries() -> None:
    routes = _r((("1.0.0", 90), ("1.1.0", 10, ("acme", "globex")), ("1.2.0", 0, ("initech",))))
    assert steps.describe(routes) == (
        "1.0.0 90 %, 1.1.0 10 % + tenants acme, globex, 1.2.0 tenant initech only"
    )


def test_edit_writes_tenants_in_flow_style() -> None:
    routes = _r((("1.1.0", 100), ("1.2.0", 0, ("acme",))))
    edited = set_routes(OFFSET_ZERO, "support-bot", routes, display="e")
    assert edited == OFFSET_ZERO.replace(
        "  - {version: 1.0.0, weight: 100}\n",
        "  - {version: 1.1.0, weight: 100}\n"
        "  - {version: 1.2.0, weight: 0, tenants: [acme]}  # canary\n",
    )


def test_a_second_canary_is_refused_while_one_runs() -> None:
    with pytest.raises(InputError) as error:
        steps.promote(_r((("1.0.0", 90), ("1.1.0", 10))), "1.2.0", 10, retain=1)
    assert error.value.message == (
        "the alias is already split between 1.0.0 90 %, 1.1.0 10 %; "
        "finish or roll back that canary first"
    )


def test_a_second_canary_is_refused_while_a_tenant_canary_runs() -> None:
    with pytest.raises(InputError) as error:
        steps.promote(_r((("1.0.0", 100), ("1.1.0", 0, ("acme",)))), "1.2.0", 10, retain=1)
    assert error.value.message == (
        "the alias is already split between 1.0.0 100 %, 1.1.0 tenant acme only; "
        "finish or roll back that canary first"
    )


def test_canary_of_an_unrouted_alias_is_refused() -> None:
    with pytest.raises(UsageError) as error:
        steps.promote((), "1.0.0", 10, retain=1)
    assert error.value.message.startswith("--weight 10: the alias serves nothing yet")


def test_describe_names_retained_routes() -> None:
    assert steps.describe(_r((("1.1.0", 100), ("1.0.0", 0)))) == "1.1.0 100 %, 1.0.0 retained"


FLOW = """name: prod
base: {name: tiny-llama, revision: r1}
serving: {engine: vllm, max_lora_rank: 64, max_loras: 8}
routes: {support-bot: [{version: 1.0.0, weight: 100}]}
"""

OFFSET_ZERO = """# comment kept
name: prod
routes:
  support-bot:   # the alias
  - {version: 1.0.0, weight: 100}
  sql-helper:
  - version: "1.0.0"
    weight: 100
retain: 1
"""


def test_edit_keeps_every_other_line_byte_for_byte() -> None:
    edited = set_routes(OFFSET_ZERO, "support-bot", _r((("1.1.0", 100), ("1.0.0", 0))), display="e")
    assert edited == OFFSET_ZERO.replace(
        "  - {version: 1.0.0, weight: 100}\n",
        "  - {version: 1.1.0, weight: 100}\n  - {version: 1.0.0, weight: 0}  # retained for rollback\n",
    )


def test_edit_refuses_routes_it_cannot_change_line_by_line() -> None:
    with pytest.raises(InputError) as error:
        set_routes(
            FLOW, "support-bot", _r((("1.1.0", 100),)), display="environments/prod/environment.yaml"
        )
    assert error.value.message == (
        "environments/prod/environment.yaml: routes.support-bot is not written as a block "
        "('support-bot:' on its own line), so it cannot be edited line by line"
    )
