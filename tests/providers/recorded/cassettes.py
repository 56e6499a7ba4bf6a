"""External recordings of real API exchanges, read where they are (never copied here).

The recordings are vcrpy YAML cassettes from another project (see the folder's INDEX.md). The
folder is `$SPINE_CASSETTES`, else `../shared/cassettes` beside the repository; a relative
`SPINE_CASSETTES` is taken from the repository root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx2
import yaml

from ..fakes import Server

REPOSITORY = Path(__file__).resolve().parents[3]
_DROP = {"content-length", "transfer-encoding", "content-encoding", "connection"}


def cassettes_dir(environ: dict[str, str] | None = None) -> Path:
    """The folder of recordings named by `SPINE_CASSETTES` (default ../shared/cassettes)."""
    env = os.environ if environ is None else environ
    path = Path(env.get("SPINE_CASSETTES") or REPOSITORY.parent / "shared" / "cassettes")
    return path if path.is_absolute() else REPOSITORY / path


def load_cassette(name: str) -> list[dict[str, Any]]:
    """The interactions of `<provider>/<file>.yaml`."""
    data = yaml.safe_load((cassettes_dir() / name).read_text())
    return list(data["interactions"])


def recorded_request(interaction: dict[str, Any]) -> Any:
    return interaction["request"].get("parsed_body")


def _response_of(interaction: dict[str, Any]) -> httpx2.Response:
    recorded = interaction["response"]
    headers = {
        k: v[0] for k, v in (recorded.get("headers") or {}).items() if k.lower() not in _DROP
    }
    if "parsed_body" in recorded:
        content = json.dumps(recorded["parsed_body"]).encode()
        headers.setdefault("content-type", "application/json")
    else:
        content = recorded["body"]["string"].encode()
    return httpx2.Response(recorded["status"]["code"], headers=headers, content=content)


def serve(name: str) -> Server:
    """A `Server` replaying the responses of a cassette in order."""
    return Server([_response_of(i) for i in load_cassette(name)])
