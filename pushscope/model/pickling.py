"""How the model is pickled for the cache: every object rebuilt by a call done in C or by its ``__init__``.

Pickle's default for a slotted dataclass writes a dict of its fields and, on loading, sets them one by one (for a
frozen one, through a Python loop in ``dataclasses``); a reopen spent most of its model read there. Rebuilding a
dataclass through its ``__init__`` with its fields in order is one call per object, and the file is smaller (no
field names): a 30 MB capture's model reads in about 40 % of the time. Only dataclasses whose fields are all
positional ``__init__`` arguments and that have no ``__post_init__`` are rebuilt so; anything else keeps
pickle's own way.
"""

from __future__ import annotations

import copyreg
import dataclasses
import pickle
from typing import Any

from pushscope.model.frames import FrameLog

# Pickle writes NEWOBJ (the class's __new__, in C) for a reduction whose callable has this name.
_NEWOBJ = copyreg.__newobj__  # type: ignore[attr-defined]
_INIT_FIELDS: dict[type, tuple[str, ...] | None] = {}


def init_fields(cls: type) -> tuple[str, ...] | None:
    """The fields ``cls(*values)`` takes, in order; None when a class cannot be rebuilt that way."""
    try:
        return _INIT_FIELDS[cls]
    except KeyError:
        pass
    names = None
    if dataclasses.is_dataclass(cls) and not hasattr(cls, "__post_init__"):
        fields = dataclasses.fields(cls)
        if all(field.init and not field.kw_only for field in fields):
            names = tuple(field.name for field in fields)
    _INIT_FIELDS[cls] = names
    return names


class ModelPickler(pickle.Pickler):
    """A pickler for the model (``pickle.Unpickler`` reads what it writes; no code of ours runs but __init__)."""

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls is FrameLog:
            # Rebuilt without its __init__: NEWOBJ and the slots set in C.
            slots = {"_packed": bytes(obj._packed), "_kinds": tuple(obj._kinds), "_spilled": obj._spilled}
            return _NEWOBJ, (FrameLog,), (None, slots)
        names = init_fields(cls)
        if names is None:
            return NotImplemented
        return cls, tuple([getattr(obj, name) for name in names])
