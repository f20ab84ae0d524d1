"""The JSON Schema of a saved probe session's lines, built from the event dataclasses themselves.

A saved session is read back by ``pushscope FILE``, ``report``, ``check`` and ``diff``; a corrupted or hand-edited
line must be a clear error naming the line, never a TypeError deep in the model. Each event type's schema follows
its fields' type hints (``float`` a number, ``Side`` "client" or "server", ``bytes`` base64 text, ...), so the
schema cannot drift from the events it describes.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from functools import cache
from typing import Any

from pushscope import events
from pushscope.events import Diagnostic, Endpoint, RunFinished, RunStarted
from pushscope.vocabulary import Outcome, Reason

# Sessions saved before the probe used the verdict reason codes.
LEGACY_REASONS = {
    "cancelled": "cancelled-cached",
    "already-had-fresh-copy": "already-cached",
    "server-reset": "server-cancelled",
    "cancelled-uncached": "rejected",
    "requested-anyway": "client-requested-anyway",
    "ignored-not-referenced": "not-referenced",
    "ignored": "not-referenced",
}
# The types a session line of kind "event" may hold: every event, and the run records beside them.
RECORD_TYPES: dict[str, type] = {
    **{name: cls for name, cls in vars(events).items()
       if isinstance(cls, type) and issubclass(cls, events.Event) and cls is not events.Event},
    "RunStarted": RunStarted, "RunFinished": RunFinished,
}

HEADER = {"type": "object", "required": ["format", "version"],
          "properties": {"format": {"const": "pushscope-session"}, "version": {"type": "integer", "minimum": 1},
                         "name": {"type": ["string", "null"]}, "url": {"type": ["string", "null"]},
                         "options": {"type": "object"}}}
RUN = {"type": "object", "required": ["label", "index", "cold", "started_at"],
       "properties": {"label": {"type": ["string", "integer"]}, "index": {"type": "integer"},
                      "cold": {"type": "boolean"}, "started_at": {"type": "number"},
                      "connections": {"type": "array", "items": {"type": "string"}},
                      "protocols": {"type": "object"}, "fetched_from": {"type": "object"},
                      "cached_at_start": {"type": "integer"}}}
# Version 1 lines ("run" above, "truth" here): read as the events they stand for.
TRUTH = {"type": "object", "required": ["connection", "run", "url", "outcome", "reason"],
         "properties": {"connection": {"type": "string"}, "run": {"type": ["string", "integer"]},
                        "url": {"type": "string"}, "outcome": {"enum": [o.value for o in Outcome]},
                        "reason": {"enum": [r.value for r in Reason] + sorted(LEGACY_REASONS)},
                        "stream_id": {"type": ["integer", "null"]}, "push_id": {"type": ["integer", "null"]},
                        "promised_at": {"type": ["number", "null"]}}}
ENDPOINT = {"type": "object", "required": ["address", "port"],
            "properties": {"address": {"type": "string"}, "port": {"type": "integer"}}}
PAIRS = {"type": "array", "items": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "string"}],
                                    "minItems": 2, "maxItems": 2}}


def _schema_for(hint: Any) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(hint))}
    if origin in (typing.Union, types.UnionType):
        options = [_schema_for(arg) for arg in typing.get_args(hint)]
        return {"anyOf": options}
    if hint is type(None):
        return {"type": "null"}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [member.value for member in hint]}
    if hint is Endpoint:
        return ENDPOINT
    if hint is bytes:
        return {"type": "string"}  # base64
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is str:
        return {"type": "string"}
    if origin in (list, tuple):
        args = typing.get_args(hint)
        if args and typing.get_origin(args[0]) is tuple:
            return PAIRS
        return {"type": "array"}
    if origin is dict:
        return {"type": "object"}
    return {}


def _event_schema(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties = {f.name: _schema_for(hints[f.name]) for f in dataclasses.fields(cls)}
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    return {"type": "object", "required": required, "properties": properties}


@cache
def validators() -> dict[str, Any]:
    """One validator per line kind ("header", "diagnostic", version 1's "run" and "truth") and per event type."""
    import jsonschema

    schemas: dict[str, Any] = {"header": HEADER, "run": RUN, "truth": TRUTH, "diagnostic": _event_schema(Diagnostic)}
    for name, cls in RECORD_TYPES.items():
        schemas[f"event:{name}"] = _event_schema(cls)
    return {key: jsonschema.Draft202012Validator(schema) for key, schema in schemas.items()}


def record_problem(record: dict[str, Any]) -> str | None:
    """Why a session line does not fit its schema (first problem), or None. Unknown kinds and types pass: a
    later version may add them, and the reader skips them."""
    kind = record.get("kind")
    key = f"event:{record.get('type')}" if kind == "event" else str(kind)
    validator = validators().get(key)
    if validator is None:
        return None
    error = next(iter(validator.iter_errors(record)), None)
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "the record"
    return f"{key}: at {where}: {error.message[:160]}"
