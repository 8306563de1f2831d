"""Errors the client raises for plain (non-streamed) calls; streamed calls never raise."""

from __future__ import annotations


class EndpointError(Exception):
    """A plain request to the server failed.

    `kind` is one of "unreachable" (connection refused, unknown host), "timeout", "http" (a 4xx/5xx
    status, see `status`) or "invalid" (the body is not the JSON that was expected).
    """

    def __init__(self, url: str, kind: str, detail: str, status: int | None = None) -> None:
        self.url = url
        self.kind = kind
        self.detail = detail
        self.status = status
        where = f"HTTP {status} from {url}" if status is not None else url
        super().__init__(f"{where}: {detail}")


def excerpt(body: bytes, limit: int = 300) -> str:
    """The start of a response body as text, on one line, for error messages."""
    text = body[: limit * 4].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
