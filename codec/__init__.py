"""OpenAI JSON <-> gateway.v1 protobuf, the one translation shared by facade and providers."""
