"""OpenAI-compatible HTTP endpoints: chat completions, embeddings, models."""

from facade.openai.routes import PREFIXES, attach_router

__all__ = ["PREFIXES", "attach_router"]
