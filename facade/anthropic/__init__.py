"""Anthropic's Messages API, inbound: `POST /v1/messages` and `/v1/messages/count_tokens`."""

from facade.anthropic.routes import PREFIXES, attach_anthropic

__all__ = ["PREFIXES", "attach_anthropic"]
