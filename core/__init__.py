"""The gRPC core: routing, providers, auth; never imports facade/."""
