"""Request logs, write side: every call becomes one record, journaled before its answer goes
out and written to the store off the request path."""

from core.logs.journal import Journal
from core.logs.pipeline import Deferred, LogPipeline
from core.logs.retention import Retention
from core.logs.runtime import RequestLogs, build_request_logs
from core.logs.trace import LogRecorder

__all__ = [
    "Deferred",
    "Journal",
    "LogPipeline",
    "LogRecorder",
    "RequestLogs",
    "Retention",
    "build_request_logs",
]
