"""The code-generation API (`POST /api/svc/v1/llm-gateway/codegen`): ready-to-run snippets."""

from facade.codegen.routes import attach_codegen

__all__ = ["attach_codegen"]
