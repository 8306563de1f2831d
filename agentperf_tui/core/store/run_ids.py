"""Run ids: short, unique enough, and sorting in start order ("20261121-120301-ab12", UTC)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

RUN_ID_PATTERN = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{4}$")


def new_run_id(started_wall: float) -> str:
    """UTC start time to the second plus 16 random bits; the store retries on the rare collision."""
    stamp = datetime.fromtimestamp(started_wall, tz=UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"
