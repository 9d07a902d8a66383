"""`gateway_client.__all__` is complete and sorted (as httpx checks its own)."""

from __future__ import annotations

import gateway_client


def test_all_is_complete_and_sorted() -> None:
    public = {
        name
        for name, value in vars(gateway_client).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("gateway_client")
    }
    public |= {name for name in vars(gateway_client) if name.isupper() and not name.startswith("_")}
    assert set(gateway_client.__all__) == public
    assert gateway_client.__all__ == sorted(
        gateway_client.__all__, key=lambda n: (not n.isupper(), n)
    )


def test_every_export_is_documented() -> None:
    for name in gateway_client.__all__:
        member = getattr(gateway_client, name)
        if callable(member):
            assert member.__doc__, name
