"""Record streamed replies of the real servers, network chunk by network chunk, as test data for
the stream parser (tests/client/data/<kind>_<endpoint>.sse.json: a JSON list of the chunks'
bodies as latin-1 text, so every byte survives).

    python tests/realservers/record_streams.py [vllm|llamacpp ...]

Starts each server as the real-server tests do (installing it once if needed), asks a chat and a
completions reply of 24 tokens with usage, and stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from realservers_launch import KINDS, MODEL_NAME, start
from realservers_streams import prompt_text, stream_once

from agentperf_tui.core.client.request import CHAT_PATH, COMPLETIONS_PATH, chat_body, completion_body

OUT = Path(__file__).resolve().parents[1] / "client" / "data"
TOKENS = 24


async def record(kind: str, base_url: str) -> None:
    bodies = {
        "chat": (
            CHAT_PATH,
            chat_body(
                MODEL_NAME,
                [{"role": "user", "content": prompt_text(20)}],
                max_tokens=TOKENS,
                exact_fields=("ignore_eos",),
            ),
        ),
        "completions": (
            COMPLETIONS_PATH,
            completion_body(MODEL_NAME, prompt_text(20), max_tokens=TOKENS, exact_fields=("ignore_eos",)),
        ),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for endpoint, (path, body) in bodies.items():
        raw, parsed = await stream_once(base_url, path, body)
        if not parsed.ok:
            raise SystemExit(f"{kind} {endpoint}: {parsed.error}")
        target = OUT / f"{kind}_{endpoint}.sse.json"
        target.write_text(json.dumps([c.decode("latin-1") for c in raw.chunks], indent=0) + "\n")
        print(f"{target}: {len(raw.chunks)} chunks, {parsed.client_output_tokens} output deltas")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kinds", nargs="*", choices=KINDS, default=list(KINDS))
    for kind in p.parse_args().kinds:
        server = start(kind)
        try:
            asyncio.run(record(kind, server.base_url))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
