"""Who sees what: a user its own records, a team admin its teams' too, the admin all.

The same rules over HTTP (facade) and gRPC (typed client); a record out of scope is 404.
"""

from __future__ import annotations

import pytest

from gateway_client import NotFoundError, log_filter
from tests.logapi.conftest import REQUESTS_PATH, LogGateway
from tests.logapi.records import ADMIN_KEY, ALICE, BOB, CAROL, DAVE, KEYS, RECORDS

pytestmark = pytest.mark.asyncio(loop_scope="module")


def visible_to(secret: str) -> list[str]:
    """Ids newest first, by the rules of core.access.log_scope."""
    if secret == ADMIN_KEY:
        seen = list(RECORDS)
    else:
        key = KEYS[secret]
        seen = [
            r for r in RECORDS if r.subject == key.subject or set(r.teams) & set(key.admin_teams)
        ]
    return [r.id for r in sorted(seen, key=lambda r: (r.created_at, r.id), reverse=True)]


SECRETS = [ADMIN_KEY, ALICE, BOB, CAROL, DAVE]


async def test_the_keys_see_different_sets() -> None:
    sizes = {secret: len(visible_to(secret)) for secret in SECRETS}
    assert sizes[ADMIN_KEY] == len(RECORDS)
    assert sizes[ALICE] == sizes[BOB] == sizes[DAVE] == len(RECORDS) // 4
    assert sizes[ALICE] < sizes[CAROL] < sizes[ADMIN_KEY]  # carol also sees bob's


@pytest.mark.parametrize("secret", SECRETS)
async def test_http_list_is_scoped(shared_gateway: LogGateway, secret: str) -> None:
    async with shared_gateway.http(secret) as http:
        response = await http.post(REQUESTS_PATH, json={"limit": 1000})
        # A filter cannot widen the scope.
        widened = await http.post(
            REQUESTS_PATH,
            json={
                "filter": {
                    "user": [{"key": "user", "value": "user:alice@example.com", "operator": "EQ"}]
                },
                "limit": 1000,
            },
        )
    assert response.status_code == 200
    body = response.json()
    assert [r["id"] for r in body["data"]] == visible_to(secret)
    assert body["pagination"]["total"] == len(visible_to(secret))
    alice = set(visible_to(ALICE))
    assert {r["id"] for r in widened.json()["data"]} == alice & set(visible_to(secret))


@pytest.mark.parametrize("secret", SECRETS)
async def test_grpc_list_is_scoped(shared_gateway: LogGateway, secret: str) -> None:
    async with shared_gateway.grpc(secret) as client:
        page = await client.logs.list(limit=1000)
        counted = await client.logs.list(
            filters=[log_filter("created_at", "GTE", 0), log_filter("stream", "IN", [True, False])],
            limit=1,
        )
    assert [e.id for e in page.log_entries] == visible_to(secret)
    assert counted.total_size == len(visible_to(secret))


@pytest.mark.parametrize("secret", SECRETS)
async def test_get_outside_scope_is_404(shared_gateway: LogGateway, secret: str) -> None:
    visible = set(visible_to(secret))
    inside = next(r.id for r in RECORDS if r.id in visible)
    outside = [r.id for r in RECORDS if r.id not in visible]
    async with shared_gateway.http(secret) as http, shared_gateway.grpc(secret) as client:
        assert (await http.get(f"{REQUESTS_PATH}/{inside}")).json()["id"] == inside
        assert (await client.logs.get(inside)).id == inside
        for log_id in outside[:3]:
            response = await http.get(f"{REQUESTS_PATH}/{log_id}")
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "log_not_found"
            with pytest.raises(NotFoundError):
                await client.logs.get(log_id)
    assert bool(outside) == (secret != ADMIN_KEY)
