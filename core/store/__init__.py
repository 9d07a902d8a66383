"""Storage: one port (base.py), adapters for SQLite (default) and MongoDB."""
