"""Pressure profiles are registry documents: `adapterctl validate` checks them with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapterctl.cli.app import main
from adapterctl.layout import classify
from adapterctl.model.kinds import Kind

PATH = "environments/staging/pressure/bad.yaml"
HEAD = """\
# yaml-language-server: $schema=../../../schemas/pressure-profile.schema.json
name: bad
description: Broken on purpose.
"""
VALID_REST = """\
seed: 7
requests: 10
arrival: {rate_per_s: 5}
prompt_tokens: [{tokens: 4}]
output_tokens: [{tokens: 4}]
"""

CASES = {
    "field-errors": (
        HEAD + 'seed: "7"\nrequests: 10\narrival:\n  rate_per_s: 0\n  proces: poisson\n'
        "prompt_tokens: []\noutput_tokens: [{tokens: 4, weight: -1}]\n"
        "mix:\n  - {target: base}\nbudgets: {p95ms: 100}\n",
        f"""\
{PATH}:4 $.seed  error  schema/invalid-value
  expected an integer, got '7' (a string)

{PATH}:7 $.arrival.rate_per_s  error  schema/invalid-value
  must be greater than 0.0, got 0

{PATH}:8 $.arrival.proces  error  schema/unknown-field
  unknown field 'proces'
  → did you mean 'process'?

{PATH}:9 $.prompt_tokens  error  schema/invalid-value
  needs at least 1 item(s), got 0

{PATH}:10 $.output_tokens[0].weight  error  schema/invalid-value
  must be greater than 0.0, got -1

{PATH}:12 $.mix  error  schema/invalid-value
  the mix must include the target 'candidate'

{PATH}:13 $.budgets.p95ms  error  schema/unknown-field
  unknown field 'p95ms'
  → did you mean 'p95_ms'?

✗ validate: 7 errors in 19 files
""",
    ),
    "requests-and-duration": (
        HEAD + VALID_REST + "duration_s: 3\n",
        f"""\
{PATH}:2  error  schema/invalid-value
  a profile needs exactly one of 'requests' or 'duration_s'

✗ validate: 1 error in 19 files
""",
    ),
    "burst-after-the-end": (
        HEAD
        + VALID_REST.replace("requests: 10\n", "duration_s: 2\n").replace(
            "{rate_per_s: 5}", "{rate_per_s: 5, bursts: [{at_s: 2, requests: 3}]}"
        ),
        f"""\
{PATH}:2  error  schema/invalid-value
  a burst at 2 s is not within the 2 s schedule

✗ validate: 1 error in 19 files
""",
    ),
    "duplicate-target": (
        HEAD + VALID_REST + "mix:\n  - {target: candidate}\n  - {target: candidate}\n",
        f"""\
{PATH}:10 $.mix  error  schema/invalid-value
  target 'candidate' is listed twice

✗ validate: 1 error in 19 files
""",
    ),
    "missing-line": (
        HEAD + VALID_REST + "mix:\n  - {target: candidate}\n  - {target: ticket-bot}\n",
        f"""\
{PATH}:11 $.mix[1].target  error  references/missing-adapter-line
  adapter line adapters/ticket-bot/adapter.yaml does not exist
  → add it, or correct the reference

✗ validate: 1 error in 19 files
""",
    ),
    "name-is-not-the-file-stem": (
        HEAD.replace("name: bad", "name: good") + VALID_REST,
        f"""\
{PATH}:2 $.name  error  schema/path-mismatch
  name 'good' does not match the file's path, which says 'bad'
  → the path is the registry key: rename the file or correct the field

✗ validate: 1 error in 19 files
""",
    ),
    "too-many-requests": (
        HEAD
        + VALID_REST.replace("requests: 10\n", "duration_s: 86400\n").replace(
            "rate_per_s: 5", "rate_per_s: 5000"
        ),
        f"""\
{PATH}:2  error  schema/invalid-value
  the schedule would hold about 432,000,000 requests, more than 100,000

✗ validate: 1 error in 19 files
""",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_reports_profile_errors_with_their_lines(
    case: str, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = CASES[case]
    (registry / PATH).write_text(text)
    code = main(["validate", "--root", str(registry)])
    assert capsys.readouterr().out == expected
    assert code == 1


def test_a_valid_profile_passes(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (registry / PATH).write_text(
        HEAD + VALID_REST + "mix: [{target: candidate}, {target: sql-helper}]\n"
    )
    assert main(["validate", "--root", str(registry)]) == 0
    assert capsys.readouterr().out == "✓ validate: 19 files, no problems\n"


def test_profiles_have_their_place_in_the_layout() -> None:
    placement = classify("environments/prod/pressure/peak.yaml")
    assert placement is not None
    assert (placement.kind, placement.name, placement.item) == (
        Kind.PRESSURE_PROFILE,
        "peak",
        "prod",
    )
    assert classify("environments/prod/pressure/deeper/peak.yaml") is None
    assert classify("environments/prod/other/peak.yaml") is None
