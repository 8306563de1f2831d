"""An endpoint URL, written one way: the server root, without a trailing slash or `/v1`."""

from __future__ import annotations

from urllib.parse import urlsplit


def normalise_base_url(base_url: str) -> str:
    """`http://host:8000`, `http://host:8000/` and `http://host:8000/v1` all name the same server
    root; request paths start with `/v1/`. Raises ValueError saying what is wrong."""
    url = base_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{base_url!r} must start with http:// or https:// (e.g. http://host:8000)")
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{base_url!r} names no host (e.g. http://host:8000)")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{base_url!r} has an invalid port: use a number from 1 to 65535") from None
    if port == 0:
        raise ValueError(f"{base_url!r} has port 0: use a number from 1 to 65535")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    return url


def is_loopback(base_url: str) -> bool:
    host = (urlsplit(base_url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")
