"""The journal file and its line format."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from core.logs import Journal, journal_files
from core.logs.journal import Slice
from core.logs.lines import BadLine, record_from_line, record_to_line
from core.store.base import Attempt, LogRecord
from tests.logs.stores import record


@pytest.mark.parametrize(
    "original",
    [
        record(1),
        record(2, ttft_ms=None, request_body=None, response_body=None, teams=(), attempts=()),
        record(
            3,
            status="error",
            http_status=499,
            error_code="cancelled",
            error_message="the caller cancelled the request — ünïcode ✓",
            metadata={"k": "v" * 128, "emoji": "🙂"},
            attempts=(Attempt("a/b", 502, "upstream_error", 1.25), Attempt("c/d", 200, "", 2.5)),
            request_body='{"tools": [{"type": "function"}], "n": 1.0, "big": 123456789012345678901}',
        ),
    ],
)
def test_record_round_trips_through_a_line(original: LogRecord) -> None:
    line = record_to_line(original)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert record_from_line(line) == original


def test_unknown_fields_are_ignored() -> None:
    data = orjson.loads(record_to_line(record(1)))
    data["record"]["from_the_future"] = 1
    assert record_from_line(orjson.dumps(data)) == record(1)


@pytest.mark.parametrize(
    "line", [b"not json\n", b'{"v": 99, "record": {}}\n', b'{"v": 1, "record": {"id": "x"}}\n']
)
def test_bad_lines_are_rejected(line: bytes) -> None:
    with pytest.raises(BadLine):
        record_from_line(line)


def test_append_read_acknowledge_compact(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    end = journal.append([record(i) for i in range(5)])
    assert (journal.records, journal.pending) == (5, 5)
    assert end == journal.size == journal.path.stat().st_size
    first = journal.read(0, 3)
    rest = journal.read(first.end, 10)
    assert [r.id for r in first.records + rest.records] == [record(i).id for i in range(5)]
    assert (first.lines, rest.lines, rest.end) == (3, 2, journal.size)
    assert journal.read(rest.end, 10) == Slice([], rest.end, 0)
    assert journal.needs_sync
    journal.sync()
    assert not journal.needs_sync
    journal.acknowledge(first.end, 3)
    journal.compact()  # a small acknowledged head stays (no copying for it)
    assert (journal.acknowledged, journal.pending, journal.records) == (first.end, 2, 5)
    journal.acknowledge(rest.end, 2)
    journal.compact()  # everything acknowledged: emptied
    assert (journal.records, journal.size, journal.path.stat().st_size) == (0, 0, 0)
    assert journal.acknowledged == 0
    journal.close()


def test_a_big_acknowledged_head_is_dropped_keeping_the_tail(tmp_path: Path) -> None:
    journal = Journal(tmp_path, compact_bytes=1)
    head = journal.append([record(1), record(2)])
    journal.append([record(3)])
    journal.sync()
    journal.acknowledge(head, 2)
    journal.compact()
    assert (journal.records, journal.pending, journal.acknowledged) == (1, 1, 0)
    assert journal.size == journal.path.stat().st_size
    assert journal.needs_sync  # the fresh file is not on disk yet
    journal.append([record(4)])  # appends go to the fresh file
    assert [r.id for r in journal.read(0, 10).records] == [record(3).id, record(4).id]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs.jsonl"]
    # It still holds the name: another process (here a second journal) takes the next one.
    other = Journal(tmp_path)
    assert other.path.name == "logs-1.jsonl"
    other.close()
    journal.close()
    assert [r.id for r in Journal(tmp_path).read(0, 10).records] == [record(3).id, record(4).id]


def test_close_keeps_only_what_the_store_has_not_acknowledged(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    head = journal.append([record(1), record(2)])
    journal.append([record(3)])
    journal.acknowledge(head, 2)
    journal.close()
    again = Journal(tmp_path)
    assert again.records == again.pending == 1
    assert [r.id for r in again.read(0, 10).records] == [record(3).id]
    again.close()


def test_a_failing_compaction_keeps_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path, compact_bytes=1)
    head = journal.append([record(1)])
    journal.append([record(2)])
    journal.acknowledge(head, 1)

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal_files.os, "replace", full)
    journal.compact()  # logged; the journal goes on with its old file
    assert (journal.records, journal.pending, journal.acknowledged) == (2, 1, head)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs.jsonl"]
    monkeypatch.undo()
    journal.append([record(3)])
    journal.close()
    records = Journal(tmp_path).read(0, 10).records
    assert [r.id for r in records] == [record(2).id, record(3).id]


def test_reopening_counts_records_and_cuts_a_torn_last_line(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append([record(1), record(2)])
    journal.close()
    with journal.path.open("ab") as file:
        file.write(record_to_line(record(3))[:40])  # a crash mid-write
    again = Journal(tmp_path)
    assert again.records == 2
    records = again.read(0, 10).records
    assert [r.id for r in records] == [record(1).id, record(2).id]
    again.append([record(4)])
    records = again.read(0, 10).records
    assert [r.id for r in records] == [record(1).id, record(2).id, record(4).id]
    again.close()


def test_a_corrupt_line_is_skipped(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append([record(1)])
    journal.close()
    with journal.path.open("ab") as file:
        file.write(b"garbage\n")
        file.write(record_to_line(record(2)))
    again = Journal(tmp_path)
    part = again.read(0, 10)
    records, offset = part.records, part.end
    assert [r.id for r in records] == [record(1).id, record(2).id]
    assert offset == again.size
    again.close()


def test_live_processes_get_their_own_files_and_orphans_are_adopted(tmp_path: Path) -> None:
    first = Journal(tmp_path)
    second = Journal(tmp_path)  # as another process sharing the data dir would
    assert (first.path.name, second.path.name) == ("logs.jsonl", "logs-1.jsonl")
    first.append([record(1)])
    second.append([record(2), record(3)])
    second.close()  # its process dies, leaving records behind
    third = Journal(tmp_path)  # while `first` lives: adopts only the orphan
    assert third.path.name == "logs-1.jsonl"
    assert third.records == 2
    third.close()
    with (tmp_path / "logs-1.jsonl").open("ab") as file:  # torn by a crash
        file.write(record_to_line(record(4))[:30])
    first.close()
    fourth = Journal(tmp_path)
    assert fourth.path.name == "logs.jsonl"
    assert fourth.records == 3
    records = fourth.read(0, 10).records
    assert sorted(r.id for r in records) == [record(i).id for i in (1, 2, 3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs.jsonl"]
    fourth.close()
