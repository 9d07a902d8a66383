"""Log writes: exact round trip, idempotent inserts, get_log, bounded deletes."""

from __future__ import annotations

from core.store.base import Attempt, LogFilter, LogQuery, LogScope, Store
from tests.contract.records import SAMPLE, make_log

EVERYTHING = make_log(
    "full",
    1_712_345_678_901,
    model="openai-main/gpt-4o",
    resolved_model="azure-east/gpt-4o",
    provider_account="azure-east",
    subject="team:ml",
    key_id="key-ml",
    status="error",
    http_status=502,
    stream=True,
    latency_ms=0.1 + 0.2,
    teams=("ml", "platform"),
    metadata={"customer_id": "123", "application": "bøøking 🚀", "empty": ""},
    attempts=(
        Attempt("openai-main/gpt-4o", 500, "upstream_error", 12.345678901234567),
        Attempt("azure-east/gpt-4o", 502, "bad_gateway", 1e-9),
    ),
    error_code="bad_gateway",
    error_message="upstream said: <html>nope</html>",
    input_tokens=2**40,
    output_tokens=0,
    total_tokens=2**40,
    cost=1 / 3,
    ttft_ms=7.25,
    # Bodies are kept byte for byte: 1.0 stays 1.0, integers beyond 2**53 (and 2**64) stay
    # exact, and the key order and spacing are what was logged.
    request_body=(
        '{"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "héllo"}],'
        ' "temperature": 1.0, "seed": 123456789012345678901234567890, "n": null,'
        ' "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}'
    ),
    response_body='{"choices":[{"message":{"tool_calls":[{"id":"c1"}]}}],"usage":{}}',
)


async def test_record_round_trips_exactly(store: Store) -> None:
    opted_out = make_log("bare", request_body=None, response_body=None)
    empty_bodies = make_log("empty", request_body="{}", response_body="{}")
    await store.insert_logs([EVERYTHING, opted_out, empty_bodies])

    for record in (EVERYTHING, opted_out, empty_bodies):
        found = await store.get_log(record.id)
        assert found == record
    page = await store.query_logs(LogQuery(filters=(LogFilter("id", "EQ", "full"),)))
    assert page.records == [EVERYTHING]
    found = page.records[0]
    assert isinstance(found.teams, tuple)
    assert isinstance(found.attempts, tuple)
    assert all(isinstance(a, Attempt) for a in found.attempts)
    assert dict(found.metadata) == dict(EVERYTHING.metadata)
    assert found.latency_ms == 0.1 + 0.2
    assert found.cost == 1 / 3
    assert (await store.get_log("bare")).request_body is None  # type: ignore[union-attr]
    assert (await store.get_log("empty")).request_body == "{}"  # type: ignore[union-attr]


async def test_inserts_are_idempotent_by_id(store: Store) -> None:
    await store.insert_logs(SAMPLE[:4])
    await store.insert_logs(SAMPLE[:4])  # a replayed batch
    await store.insert_logs([*SAMPLE[2:], SAMPLE[5]])  # overlapping, with a repeat inside
    await store.insert_logs([])

    page = await store.query_logs(LogQuery(limit=100))
    assert page.total == len(SAMPLE)
    assert sorted(r.id for r in page.records) == sorted(r.id for r in SAMPLE)
    # Side data (teams, metadata) is not duplicated either.
    by_team = await store.query_logs(LogQuery(filters=(LogFilter("team", "EQ", "blue"),)))
    assert by_team.total == 2
    customer = LogFilter("metadata.customer_id", "EQ", "123")
    assert (await store.query_logs(LogQuery(filters=(customer,)))).total == 2


async def test_a_replay_keeps_the_first_version(store: Store) -> None:
    await store.insert_logs([make_log("a", metadata={"k": "1"}, teams=("x",))])
    await store.insert_logs([make_log("a", status="error", metadata={"k": "2"}, teams=("y",))])
    found = await store.get_log("a")
    assert found == make_log("a", metadata={"k": "1"}, teams=("x",))


async def test_the_newest_record_with_an_id_prefix(store: Store) -> None:
    await store.insert_logs(
        [
            make_log("retry-7.0a", 100),
            make_log("retry-7.0b", 300, subject="user:bob@example.com"),
            make_log("retry-7.0c", 200),
            make_log("retry-7-other", 900),  # "-" sorts before "."; not a match
            make_log("retry-70.ff", 900),
            make_log("retry-7", 900),  # the bare id is not `retry-7.`'s
            make_log("retry-8.00", 900),
        ]
    )
    newest = await store.newest_log_with_id_prefix("retry-7.")
    assert newest is not None
    assert newest.id == "retry-7.0b"
    alice = LogScope(subjects=("user:alice@example.com",))
    own = await store.newest_log_with_id_prefix("retry-7.", alice)
    assert own is not None
    assert own.id == "retry-7.0c"
    assert await store.newest_log_with_id_prefix("retry-7.", LogScope(teams=("red",))) is None
    assert await store.newest_log_with_id_prefix("nothing.") is None
    # Ties on created_at go to the greater id, as in the log API's default order.
    await store.insert_logs([make_log("tie.a", 5), make_log("tie.b", 5)])
    tie = await store.newest_log_with_id_prefix("tie.")
    assert tie is not None
    assert tie.id == "tie.b"


async def test_get_log_honours_scope(store: Store) -> None:
    await store.insert_logs(SAMPLE)
    r2 = SAMPLE[1]  # bob, team blue
    assert await store.get_log("r2", LogScope(subjects=(r2.subject,))) == r2
    assert await store.get_log("r2", LogScope(teams=("blue",))) == r2
    assert await store.get_log("r2", LogScope(subjects=("user:alice@example.com",))) is None
    assert await store.get_log("r2", LogScope(teams=("red",))) is None
    assert await store.get_log("r2", LogScope()) is None
    assert await store.get_log("r2", None) == r2
    assert await store.get_log("missing") is None


async def test_delete_logs_before_is_bounded_and_oldest_first(store: Store) -> None:
    records = [
        make_log(f"d{i}", 1_000 + i, teams=("red",), metadata={"customer_id": "c"})
        for i in range(10)
    ]
    await store.insert_logs(records)

    deleted = [await store.delete_logs_before(1_007, batch_size=3) for _ in range(4)]
    assert deleted == [3, 3, 1, 0]
    page = await store.query_logs(LogQuery(limit=100))
    assert sorted(r.id for r in page.records) == ["d7", "d8", "d9"]
    # Team and metadata rows went with their records.
    team = LogQuery(filters=(LogFilter("team", "EQ", "red"),))
    customer = LogQuery(filters=(LogFilter("metadata.customer_id", "EQ", "c"),))
    assert (await store.query_logs(team)).total == 3
    assert (await store.query_logs(customer)).total == 3
    assert await store.delete_logs_before(2_000, batch_size=0) == 0
    assert await store.delete_logs_before(2_000, batch_size=100) == 3


async def test_delete_then_reinsert_same_id(store: Store) -> None:
    await store.insert_logs([make_log("a", 1, teams=("t",), metadata={"k": "v"})])
    assert await store.delete_logs_before(2, batch_size=10) == 1
    await store.insert_logs([make_log("a", 5, teams=("t",), metadata={"k": "v"})])
    page = await store.query_logs(LogQuery(filters=(LogFilter("metadata.k", "EQ", "v"),)))
    assert [r.created_at for r in page.records] == [5]
