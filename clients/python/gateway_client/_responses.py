"""`ResponsesClient`: the gateway's `ResponseService`, reached as `GatewayClient.responses`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc

from gateway.v1 import response_service_pb2 as pb, response_service_pb2_grpc as pb_grpc

from ._client import USE_CLIENT_DEFAULT, _Timeout, _translate_errors

if TYPE_CHECKING:
    from ._client import GatewayClient

__all__ = ["ResponsesClient"]


class ResponsesClient:
    """Stores, gets and deletes Responses API responses; each belongs to the key that stored
    it (the admin key reaches all). Get it as `client.responses` on an open `GatewayClient`.

    Example:
        ```python
        stored = await client.responses.get("resp_3f9c...")
        print(stored.response_json, len(stored.conversation))
        ```
    """

    def __init__(self, client: GatewayClient) -> None:
        self._client = client
        self._stub: pb_grpc.ResponseServiceAsyncStub | None = None
        self._stub_channel: grpc.aio.Channel | None = None

    async def store(
        self,
        response: pb.StoredResponse,
        *,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
        request_id: str | None = None,
    ) -> pb.StoreResponseResponse:
        """Stores a response; raises `GatewayError` (reason `response_exists`) if its id is taken.

        Args:
            response: The response, its conversation and its `response` JSON.
            api_key: Key for this call instead of the client's; the response belongs to it.
            timeout: Deadline in seconds instead of the client's; None means none.
            request_id: Id to give the request (`x-request-id`).
        """
        with _translate_errors():
            return await self._service().StoreResponse(
                pb.StoreResponseRequest(response=response),
                **self._client._call_options(api_key, timeout, request_id),
            )

    async def get(
        self,
        response_id: str,
        *,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
        request_id: str | None = None,
    ) -> pb.StoredResponse:
        """Gets a stored response; raises `NotFoundError` (reason `response_not_found`) when
        there is none the key may read.

        Args:
            response_id: The response's id.
            api_key: Key for this call instead of the client's.
            timeout: Deadline in seconds instead of the client's; None means none.
            request_id: Id to give the request (`x-request-id`).
        """
        with _translate_errors():
            answer = await self._service().GetResponse(
                pb.GetResponseRequest(id=response_id),
                **self._client._call_options(api_key, timeout, request_id),
            )
        return answer.response

    async def delete(
        self,
        response_id: str,
        *,
        api_key: str | None = None,
        timeout: _Timeout = USE_CLIENT_DEFAULT,  # noqa: ASYNC109
        request_id: str | None = None,
    ) -> None:
        """Deletes a stored response; raises `NotFoundError` when there is none the key may
        delete.

        Args:
            response_id: The response's id.
            api_key: Key for this call instead of the client's.
            timeout: Deadline in seconds instead of the client's; None means none.
            request_id: Id to give the request (`x-request-id`).
        """
        with _translate_errors():
            await self._service().DeleteResponse(
                pb.DeleteResponseRequest(id=response_id),
                **self._client._call_options(api_key, timeout, request_id),
            )

    def _service(self) -> pb_grpc.ResponseServiceAsyncStub:
        channel = self._client._open_channel()
        if self._stub is None or self._stub_channel is not channel:
            self._stub = pb_grpc.ResponseServiceStub(channel)
            self._stub_channel = channel
        return self._stub
