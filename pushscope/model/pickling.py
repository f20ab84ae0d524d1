"""How the model is pickled for the cache: every object rebuilt by a call done in C or by its ``__init__``.

Pickle's default for a slotted dataclass writes a dict of its fields and, on loading, sets them one by one (for a
frozen one, through a Python loop in ``dataclasses``); a reopen spent most of its model read there. Rebuilding a
dataclass through its ``__init__`` with its fields in order is one call per object, and the file is smaller (no
field names): a 30 MB capture's model reads in about 40 % of the time. Only dataclasses whose fields are all
positional arguments of the generated ``__init__``, with no ``__post_init__`` and no pickling of their own, are
rebuilt so; anything else keeps pickle's own way.
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
    if _rebuildable(cls):
        fields = dataclasses.fields(cls)
        if all(field.init and not field.kw_only for field in fields):
            names = tuple(field.name for field in fields)
    _INIT_FIELDS[cls] = names
    return names


def _rebuildable(cls: type) -> bool:
    """A dataclass of its own (not a subclass that may add state), whose __init__ is the generated one, with no
    __post_init__ and no pickling of its own (bar the state methods dataclasses adds to frozen slotted classes)."""
    params = cls.__dict__.get("__dataclass_params__")
    if "__dataclass_fields__" not in cls.__dict__ or params is None or not params.init:
        return False
    if hasattr(cls, "__post_init__"):
        return False
    for klass in cls.__mro__[:-1]:  # (object's own reductions are pickle's default)
        for name in ("__reduce__", "__reduce_ex__", "__getstate__", "__setstate__"):
            method = klass.__dict__.get(name)
            if method is not None and getattr(method, "__module__", None) != "dataclasses":
                return False
    return True


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
