"""The golden runner's client keeps the openai SDK's retry policy and error words: the pure
parts, checked against what ``openai/_base_client.py`` does (the requests themselves are
tested against a node on loopback in test_eval_runner.py)."""

from __future__ import annotations

import email.utils
import time

import pytest

from adapterctl.evals.client import (
    MAX_RETRY_AFTER_DELAY,
    model_ids,
    retry_after,
    retry_delay,
    should_retry,
    status_error,
)
from adapterctl.nodeclient import env_proxy


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({}, None),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # milliseconds first
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),  # the SDK allows non-standard floats
        ({"retry-after-ms": "soon", "retry-after": "2"}, 2.0),
        ({"retry-after": "1e400"}, MAX_RETRY_AFTER_DELAY + 1),  # an overflow is too long
        ({"retry-after": "tomorrow"}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(headers) == seconds


def test_retry_after_an_http_date() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    delay = retry_after({"retry-after": later})
    assert delay is not None
    assert 28 <= delay <= 30  # whole seconds: the date has no fraction


def test_a_delay_the_node_asks_for_is_honoured_up_to_two_minutes() -> None:
    assert retry_delay(0, {"retry-after": "3"}) == 3.0
    assert retry_delay(2, {"retry-after": "120"}) == 120.0
    assert 0.375 <= retry_delay(0, {"retry-after": "121"}) <= 0.5  # too long: back-off
    assert 0.375 <= retry_delay(0, {"retry-after": "0"}) <= 0.5  # not over 0: back-off


@pytest.mark.parametrize(
    ("retries_taken", "most"), [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]
)
def test_the_back_off_doubles_to_eight_seconds_less_a_jitter(
    retries_taken: int, most: float
) -> None:
    for _ in range(50):
        assert most * 0.75 <= retry_delay(retries_taken, None) <= most


@pytest.mark.parametrize(
    ("status", "headers", "retried"),
    [
        (408, {}, True),
        (409, {}, True),
        (429, {}, True),
        (500, {}, True),
        (503, {}, True),
        (400, {}, False),
        (404, {}, False),
        (422, {}, False),
        (400, {"x-should-retry": "true"}, True),
        (503, {"x-should-retry": "false"}, False),
        (429, {"retry-after": "121"}, False),  # longer than the SDK waits: not retried
        (429, {"retry-after": "120"}, True),
    ],
)
def test_which_answers_are_retried(status: int, headers: dict[str, str], retried: bool) -> None:
    assert should_retry(status, headers) is retried


@pytest.mark.parametrize(
    ("status", "body", "summary"),
    [
        (500, b'{"error": {"message": "boom"}}', "InternalServerError: Error code: 500 - boom"),
        (502, b"<html>bad gateway</html>", "InternalServerError: Error code: 502"),
        (400, b'{"error": {"message": "bad"}}', "BadRequestError: Error code: 400 - bad"),
        (401, b'{"message": "no key"}', "AuthenticationError: Error code: 401 - no key"),
        (403, b"", "PermissionDeniedError: Error code: 403"),
        (404, b'{"detail": "Not Found"}', "NotFoundError: Error code: 404"),
        (409, b'{"error": "busy"}', "ConflictError: Error code: 409"),
        (422, b'{"error": {"message": ""}}', "UnprocessableEntityError: Error code: 422"),
        (
            429,
            b'{"error": {"message": "slow down"}}',
            "RateLimitError: Error code: 429 - slow down",
        ),
        (418, b'{"error": {"message": "teapot"}}', "APIStatusError: Error code: 418 - teapot"),
    ],
)
def test_status_errors_are_named_and_worded_as_the_sdk_does(
    status: int, body: bytes, summary: str
) -> None:
    error = status_error(status, body)
    assert (error.summary, error.status) == (summary, status)


@pytest.mark.parametrize(
    ("body", "ids"),
    [
        (b'{"object": "list", "data": [{"id": "a"}, {"id": "b"}]}', {"a", "b"}),
        (b'{"data": []}', set()),
        (b'{"data": [{"id": "a"}, {"id": 3}]}', None),
        (b'{"data": "a"}', None),
        (b'{"models": []}', None),
        (b"[]", None),
        (b"<html>", None),
    ],
)
def test_model_ids(body: bytes, ids: set[str] | None) -> None:
    assert model_ids(body) == ids


def test_the_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert env_proxy("http://node:8000/v1") is None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert env_proxy("http://node:8000/v1") == "http://proxy:3128"
    assert env_proxy("http://127.0.0.1:8000/v1") is None
    assert env_proxy("https://node/v1") is None
