"""The llm-gateway command: composes core and facade."""
