"""Bad metrics queries: a 400 (INVALID_ARGUMENT) whose `param` is the JSON path, never a 500."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from gateway.v1 import metrics_service_pb2 as pb
from gateway_client import AuthenticationError, InvalidRequestError, log_filter
from tests.logapi.records import SEED_FROM
from tests.metricsapi.conftest import QUERY_PATH, MetricsGateway

pytestmark = pytest.mark.asyncio(loop_scope="module")

DAY = 86_400_000
OK: dict[str, Any] = {"start_time": SEED_FROM, "end_time": SEED_FROM + DAY}


def _with(**changes: Any) -> dict[str, Any]:
    return {**OK, **changes}


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"end_time": SEED_FROM}, "start_time", ["start_time is required"]),
        (_with(start_time="yesterday"), "start_time", ["integer"]),
        (_with(end_time=SEED_FROM - 1), "end_time", ["after start_time"]),
        (_with(start_time=253_402_300_800_000), "start_time", ["between"]),
        (
            _with(
                start_time=0,
                end_time=1000,
                interval="month",
                filter={"created_at": [{"value": 9007199254740000, "operator": "GT"}]},
            ),
            "start_time",
            ["9998"],
        ),
        (_with(start_time=-1), "start_time", ["1970"]),
        (_with(group_by=["nope"]), "group_by[0]", ["cannot group by 'nope'", "metadata.<key>"]),
        (_with(group_by="model"), "group_by", ["list"]),
        (_with(group_by=["model", "model"]), "group_by[1]", ["twice"]),
        (_with(group_by=["model", "user", "team", "status", "stream"]), "group_by", ["at most 4"]),
        (_with(group_by=["metadata."]), "group_by[0]", ["metadata key"]),
        (_with(interval="fortnight"), "interval", ["unknown interval"]),
        (_with(start_time=SEED_FROM - 30 * DAY, interval="minute"), "interval", ["1440 points"]),
        (_with(limit=0), "limit", ["between 1"]),
        (_with(limit=5000), "limit", ["between 1 and 1000"]),
        (_with(limit="10"), "limit", ["integer"]),
        (_with(percentiles="no"), "percentiles", ["true or false"]),
        (_with(sort=[]), "sort", ["unknown key 'sort'"]),
        (
            _with(filter={"nope": [{"key": "nope", "value": 1, "operator": "EQ"}]}),
            "filter.nope[0].key",
            ["unknown log field 'nope'"],
        ),
        (
            _with(filter={"model": [{"key": "model", "value": "x", "operator": "LIKE"}]}),
            "filter.model[0].operator",
            ["unknown operator 'LIKE'"],
        ),
        (
            _with(filter={"cost": [{"key": "cost", "value": "cheap", "operator": "GT"}]}),
            "filter.cost[0].value",
            ["not a number"],
        ),
        (
            # Not rolled up: read raw, at most 24 hours by default.
            _with(start_time=SEED_FROM - 7 * DAY, group_by=["metadata.environment"]),
            "group_by[0]",
            ["metadata.environment is not rolled up", "24 hours"],
        ),
        (
            _with(
                start_time=SEED_FROM - 7 * DAY,
                filter={"cost": [{"key": "cost", "value": 0.1, "operator": "GT"}]},
            ),
            "filter",
            ["cost is not rolled up"],
        ),
    ],
)
async def test_bad_queries_are_400s_naming_the_json_path(
    metrics_gateway: MetricsGateway, body: dict[str, Any], param: str, words: list[str]
) -> None:
    async with metrics_gateway.http() as http:
        response = await http.post(QUERY_PATH, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    for word in words:
        assert word in error["message"]


async def test_body_that_is_not_a_json_object(metrics_gateway: MetricsGateway) -> None:
    async with metrics_gateway.http() as http:
        for content in (b"[1, 2]", b"{not json"):
            response = await http.post(QUERY_PATH, content=content)
            assert response.status_code == 400


async def test_grpc_names_the_request_field(metrics_gateway: MetricsGateway) -> None:
    request = pb.QueryMetricsRequest(group_by=["nope"])
    request.start_time.FromMilliseconds(SEED_FROM)
    async with metrics_gateway.grpc() as client:
        with pytest.raises(InvalidRequestError) as raised:
            await client.metrics.query(request)
        assert raised.value.grpc_code == grpc.StatusCode.INVALID_ARGUMENT
        assert raised.value.param == "group_by[0]"
        request = pb.QueryMetricsRequest()
        request.start_time.FromMilliseconds(SEED_FROM)
        request.bucket.seconds = 3600
        with pytest.raises(InvalidRequestError) as raised:
            await client.metrics.query(request)
        assert raised.value.param == "bucket"
        with pytest.raises(ValueError, match="either"):
            await client.metrics.query(request, limit=3)
        with pytest.raises(ValueError, match="either"):
            await client.metrics.query(request, filters=[log_filter("model", "EQ", "m")])


async def test_an_unknown_key_is_a_401(metrics_gateway: MetricsGateway) -> None:
    async with metrics_gateway.http("sk-nobody") as http:
        response = await http.post(QUERY_PATH, json=OK)
    assert response.status_code == 401
    async with metrics_gateway.grpc("sk-nobody") as client:
        with pytest.raises(AuthenticationError):
            await client.metrics.query(start_ms=SEED_FROM)
