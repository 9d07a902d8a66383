"""The HTTP facade: OpenAI-compatible JSON <-> gRPC; never imports core/."""
