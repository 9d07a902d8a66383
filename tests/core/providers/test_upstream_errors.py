"""The upstream error table: how long a provider asked callers to wait."""

from __future__ import annotations

import orjson
import pytest

from core.providers.upstream_errors import status_error


def google_429(delay: object) -> bytes:
    detail = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}
    other = {"@type": "type.googleapis.com/google.rpc.Help", "links": []}
    return orjson.dumps({"error": {"code": 429, "message": "quota", "details": [other, detail]}})


def test_googles_retry_info_is_the_wait_when_no_header_says_it() -> None:
    error = status_error(429, google_429("37s"), label="g/m", headers={})
    assert error.details == {"retry_after_seconds": "37"}
    assert "quota" in error.message


def test_a_retry_after_header_wins_over_the_body() -> None:
    error = status_error(429, google_429("37s"), label="g/m", headers={"retry-after": "3"})
    assert error.details == {"retry_after_seconds": "3"}


@pytest.mark.parametrize("delay", ["soon", "-1s", "99999s", 5, "1.5"])
def test_a_retry_info_that_is_no_duration_is_ignored(delay: object) -> None:
    assert status_error(429, google_429(delay), label="g/m", headers={}).details == {}


def test_only_a_429_reads_retry_info() -> None:
    assert status_error(503, google_429("2s"), label="g/m", headers={}).details == {}
