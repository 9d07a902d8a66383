"""Identity: API keys (creation, rules, caching, last use) behind the store port."""
