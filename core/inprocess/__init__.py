"""Calls from the facade to core in the same process, without a socket or serialization.

`serve` (core and facade in one process) hands the facade's `GatewayClient` an
`InProcessChannel` instead of a gRPC channel: the generated stubs, the servicers and the
server interceptor are the very same, the protobuf messages are passed as objects.
"""

from core.inprocess.channel import InProcessChannel
from core.inprocess.methods import MethodTable, Registrations

__all__ = ["InProcessChannel", "MethodTable", "Registrations"]
