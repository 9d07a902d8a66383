"""The metrics API over HTTP and gRPC: the same figures, scoped per key, in the JSON shape."""

from __future__ import annotations

from typing import Any

import pytest

from core.access import log_scope
from core.auth import Principal
from gateway_client import log_filter
from tests.logapi.records import ADMIN_KEY, ALICE, BOB, CAROL, DAVE, KEYS, RECORDS, SEED_FROM
from tests.metricsapi.conftest import QUERY_PATH, MetricsGateway

pytestmark = pytest.mark.asyncio(loop_scope="module")

START = SEED_FROM - 3 * 3_600_000
END = SEED_FROM + 5 * 3_600_000


def _visible(key: str) -> int:
    if key == ADMIN_KEY:
        return len(RECORDS)
    record = KEYS[key]
    scope = log_scope(
        Principal(record.subject, record.id, teams=record.teams, admin_teams=record.admin_teams)
    )
    assert scope is not None
    return sum(1 for r in RECORDS if r.subject in scope.subjects or set(r.teams) & set(scope.teams))


async def _http(gateway: MetricsGateway, body: dict[str, Any], key: str = ADMIN_KEY) -> Any:
    async with gateway.http(key) as http:
        response = await http.post(QUERY_PATH, json=body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("key", [ADMIN_KEY, ALICE, BOB, CAROL, DAVE])
async def test_each_key_sees_its_own_usage_over_http_and_grpc(
    metrics_gateway: MetricsGateway, key: str
) -> None:
    body = {"start_time": START, "end_time": END, "group_by": ["user"]}
    answer = await _http(metrics_gateway, body, key)
    async with metrics_gateway.grpc(key) as client:
        over_grpc = await client.metrics.query(start_ms=START, end_ms=END, group_by=["user"])
    assert answer["totals"]["requests"] == over_grpc.totals.requests == _visible(key)
    assert [r["requests"] for r in answer["rows"]] == [r.requests for r in over_grpc.rows]
    if key == CAROL:  # the admin of team:blue sees herself and bob (red and blue)
        assert {r["user"] for r in answer["rows"]} == {
            "user:bob@example.com",
            "user:carol@example.com",
        }


async def test_the_json_shape(metrics_gateway: MetricsGateway) -> None:
    answer = await _http(
        metrics_gateway,
        {
            "start_time": START,
            "end_time": END,
            "group_by": ["model", "metadata.customer_id"],
            "filter": {"status": [{"key": "status", "value": "success", "operator": "EQ"}]},
            "interval": "hour",
            "limit": 5,
        },
    )
    assert answer["interval"] == "hour"
    assert (answer["start_time"], answer["end_time"]) == (START, END)
    row = answer["rows"][0]
    assert list(row) == [
        "model",
        "metadata.customer_id",
        "bucket_start",
        "requests",
        "errors",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "cost",
        "latency_ms",
        "ttft_ms",
        "gateway_overhead_ms",
        "other",
    ]
    assert set(row["latency_ms"]) == {"p50", "p90", "p99"}
    assert row["bucket_start"] % 3_600_000 == 0
    assert answer["rows"][-1]["other"] is True  # more than 5 groups
    assert answer["rows"][-1]["model"] is None
    assert {r["errors"] for r in answer["rows"]} == {0}
    successes = [r for r in RECORDS if r.status == "success" and START <= r.created_at < END]
    assert answer["totals"]["requests"] == len(successes)
    assert answer["totals"]["cost"] == pytest.approx(sum(r.cost for r in successes))
    assert "bucket_start" not in answer["totals"]
    # Records without the key group under null.
    no_key = await _http(
        metrics_gateway,
        {"start_time": START, "end_time": END, "group_by": ["metadata.customer_id"]},
    )
    missing = [r for r in no_key["rows"] if r["metadata.customer_id"] is None]
    assert missing[0]["requests"] == sum(1 for r in RECORDS if "customer_id" not in r.metadata)


async def test_auto_interval_and_filters_over_grpc(metrics_gateway: MetricsGateway) -> None:
    async with metrics_gateway.grpc() as client:
        answer = await client.metrics.query(
            start_ms=SEED_FROM,
            end_ms=SEED_FROM + 3 * 3_600_000,
            interval="auto",
            filters=[log_filter("metadata.customer_id", "IN", ["101", "102"])],
        )
    assert answer.interval == 1  # METRICS_INTERVAL_MINUTE: 180 points
    expected = [
        r
        for r in RECORDS
        if r.metadata.get("customer_id") in ("101", "102")
        and SEED_FROM <= r.created_at < SEED_FROM + 3 * 3_600_000
    ]
    assert answer.totals.requests == len(expected)
    assert sum(row.requests for row in answer.rows) == len(expected)


async def test_without_percentiles_no_row_has_them(metrics_gateway: MetricsGateway) -> None:
    body = {
        # Mid-minute, just before a record: that record is read raw, with its latency.
        "start_time": RECORDS[0].created_at - 1000,
        "end_time": END,
        "group_by": ["model"],
        "percentiles": False,
    }
    answer = await _http(metrics_gateway, body)
    for row in [*answer["rows"], answer["totals"]]:
        assert row["latency_ms"] is row["ttft_ms"] is row["gateway_overhead_ms"] is None
    assert answer["totals"]["requests"] == len(RECORDS)
