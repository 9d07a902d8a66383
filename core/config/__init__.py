"""Settings from the environment and the gateway YAML: models, loader, errors."""
