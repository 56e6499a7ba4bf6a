"""What every checkpoint store shares: identifier validation and the (header, message rows)
layout of a persisted `State`."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic_core import PydanticSerializationError

from spine_core import RunStatus, State

__all__ = [
    "REFERENCE_KEY",
    "assemble",
    "check_session_id",
    "decode_header",
    "encode_header",
    "encode_messages",
    "run_status",
    "status_values",
    "validate_identifier",
    "validate_key_prefix",
]

# Status values written by state versions 1 and 2 (before `RunStatus`); rows keep them until
# their session is written again.
_LEGACY_STATUS = {
    "completed": RunStatus.DONE,
    "stopped": RunStatus.DONE,
    "failed": RunStatus.ERROR,
}

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_KEY_PREFIX = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_:.\-]{0,127}")


def validate_identifier(name: str, *, what: str = "table name") -> str:
    """Return `name` when it is a plain SQL identifier (letters, digits, underscore; at most 63
    characters, the PostgreSQL limit; not starting with a digit).

    Raises:
        ValueError: anything else, so a name can never smuggle SQL into a statement.
    """
    if not isinstance(name, str) or _IDENTIFIER.fullmatch(name) is None:
        raise ValueError(f"invalid {what} {name!r}: use letters, digits and '_' (max 63)")
    return name


def validate_key_prefix(prefix: str) -> str:
    """Return `prefix` when it is a safe Redis key prefix (letters, digits, `_ : . -`).

    Raises:
        ValueError: empty, too long (over 128 characters) or other characters.
    """
    if not isinstance(prefix, str) or _KEY_PREFIX.fullmatch(prefix) is None:
        raise ValueError(f"invalid key prefix {prefix!r}: use letters, digits and '_:.-'")
    return prefix


def check_session_id(
    session_id: str, *, store: str, allow_nul: bool = True, max_bytes: int | None = None
) -> str:
    """Return `session_id` when `store` can keep it as it is.

    Every store needs text that encodes as UTF-8 (no lone surrogates such as "\\ud800");
    PostgreSQL text also cannot hold U+0000 (`allow_nul=False`) and its primary-key index
    caps a key at 2,704 bytes (`max_bytes`).

    Raises:
        TypeError: `session_id` is not a str.
        ValueError: the id cannot be stored; the message says why.
    """
    if not isinstance(session_id, str):
        raise TypeError(f"a session id is a str, not {type(session_id).__name__}")
    try:
        size = len(session_id.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{store} cannot store session id {session_id!r}: it is not valid Unicode "
            f"(lone surrogate at position {exc.start})"
        ) from None
    if not allow_nul and "\x00" in session_id:
        raise ValueError(
            f"{store} cannot store session id {session_id!r}: it contains U+0000 (NUL), "
            "which PostgreSQL text cannot hold"
        )
    if max_bytes is not None and size > max_bytes:
        raise ValueError(
            f"{store} cannot store a session id of {size} UTF-8 bytes (at most {max_bytes})"
        )
    return session_id


def run_status(value: RunStatus | str) -> RunStatus:
    """The `RunStatus` for a status value, accepting the names older versions stored
    ("completed" and "stopped" are `DONE`, "failed" is `ERROR`).

    Raises:
        ValueError: not a status value.
    """
    if isinstance(value, RunStatus):
        return value
    legacy = _LEGACY_STATUS.get(value)
    return legacy if legacy is not None else RunStatus(value)


def status_values(status: RunStatus | str | None) -> list[str] | None:
    """Every stored status value that means `status` (the current value and its legacy
    names), for a `list` filter; None when `status` is None (no filter).

    Raises:
        ValueError: not a status value.
    """
    if status is None:
        return None
    wanted = run_status(status)
    return [wanted.value, *(old for old, new in _LEGACY_STATUS.items() if new is wanted)]


# Left out of the serialised header: the messages are rows of their own, the revision sits
# beside the header (where the compare-and-set reads it), and `updated_at` is the commit's.
_NOT_IN_HEADER = {"messages", "revision", "updated_at"}


# Set in a header copied from a row the Spine API reference's SQL stores wrote (the whole state
# JSON minus its messages, of any reference version): `assemble` reads it as the reference's
# shape, which has no revision of its own. The next `put` writes a Spine header without it.
REFERENCE_KEY = "$spine_reference"


def encode_header(state: State, *, updated_at: float) -> str:
    """The state without messages, as compact JSON, stamped `updated_at` (Unix seconds).
    The revision is not part of it: stores keep it beside the header, where the
    compare-and-set reads it."""
    try:  # pydantic's own JSON encoder: a quarter of the cost of model_dump + json.dumps
        raw = state.model_dump_json(exclude=_NOT_IN_HEADER)
    except PydanticSerializationError:  # e.g. a lone surrogate: the same error as before
        header = state.header()
        header.pop("revision", None)
        header["updated_at"] = updated_at
        return json.dumps(header, ensure_ascii=False, separators=(",", ":"))
    return f'{raw[:-1]},"updated_at":{updated_at!r}}}'


def encode_messages(state: State, start: int) -> list[str]:
    """`state.messages[start:]` as compact JSON strings, one per stored row."""
    return [m.model_dump_json() for m in state.messages[start:]]


def decode_header(raw: str | bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(raw)
    return data


def assemble(header: dict[str, Any], rows: Sequence[str | bytes], revision: int) -> State:
    """Rebuild a `State` from its stored header, message rows (oldest first) and revision.

    The data is shaped the way its version wrote it and `State.load` migrates it: version 1
    kept messages under `history` and the revision under `rev`; versions 1 and 2 named
    `pending` `interrupt` and `scratch` `metadata`, and used older status values. A header
    marked `REFERENCE_KEY` is the Spine API reference's state (whatever its version says),
    migrated as such and given the stored revision.

    Raises:
        ValueError: the stored version is newer than this Spine or has no migration.
    """
    data = dict(header)
    messages = [json.loads(row) for row in rows]
    if data.pop(REFERENCE_KEY, False):
        data.pop("revision", None)  # the reference's shape is recognised by its absence
        data["messages"] = messages
        state = State.load(data)
        state.revision = revision
        return state
    if int(data.get("version", 1)) < 2:
        data["history"] = messages
        data["rev"] = revision
    else:
        data["messages"] = messages
        data["revision"] = revision
    return State.load(data)
