"""How the model is pickled for the cache: every object rebuilt by a call done in C or by its ``__init__``.

Pickle's default for a slotted dataclass writes a dict of its fields and, on loading, sets them one by one (for a
frozen one, through a Python loop in ``dataclasses``); a reopen spent most of its model read there. Rebuilding a
dataclass through its ``__init__`` with its fields in order is one call per object, and the file is smaller (no
field names): a 30 MB capture's model reads in about 40 % of the time. Only dataclasses whose fields are all
positional arguments of the generated ``__init__``, with no ``__post_init__`` and no pickling of their own, are
rebuilt so; anything else keeps pickle's own way.

Pickle writes numbers by value, not by reference: every time an exchange shows became its own float when read
back (1.3 million floats for 80,000 distinct times at 306 MB). A long list of one class is therefore written as
columns (``columns_of``), and ``rows_from_columns`` shares equal numbers within each column that repeats them as it
rebuilds the piece, and across the pieces of one model read (``SharedNumbers``: at 306 MB, 340,000 floats read back
against 521,000 piece by piece, and 245,000 when the model was built).
"""

from __future__ import annotations

import copyreg
import dataclasses
import math
import operator
import pickle
from collections.abc import Callable, Mapping, Sequence
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


@dataclasses.dataclass(frozen=True, slots=True)
class ModelRef:
    """A model object named by its place in the capture: what a kept value that points into the model holds in the
    cache instead of the object (each piece of the cache is pickled alone, so the object itself would be a copy)."""

    kind: str  # "exchange", "push" or "connection"
    key: int | str


@dataclasses.dataclass(frozen=True, slots=True)
class Columns:
    """A list of one dataclass's objects, written as one tuple per field (see ``rows_from_columns``); ``shared``:
    the columns whose equal numbers are one object when read back."""

    cls: type
    columns: tuple[tuple[Any, ...] | Columns, ...]
    shared: tuple[int, ...] = ()


def columns_of(items: Sequence[object]) -> Columns | None:
    """``items`` as columns when they are all of one class that ``init_fields`` can rebuild; else None."""
    if not items:
        return None
    cls = type(items[0])
    names = init_fields(cls)
    if names is None or any(type(item) is not cls for item in items):
        return None
    values = operator.attrgetter(*names)
    rows = list(map(values, items)) if len(names) > 1 else [(value,) for value in map(values, items)]
    # A column of objects of one such class (each push's cost) is written as columns too.
    columns = tuple(columns_of(column) or column for column in zip(*rows, strict=True))
    return Columns(cls, columns, tuple(index for index, column in enumerate(columns) if _worth_sharing(column)))


def rows_from_columns(piece: Columns, numbers: SharedNumbers | None = None) -> list[Any]:
    """The objects ``columns_of`` wrote, each rebuilt by its ``__init__``, equal numbers of a shared column one
    object: within the piece, or, given ``numbers``, across every piece read with it."""
    names = init_fields(piece.cls)
    columns: list[Sequence[Any]] = [rows_from_columns(column, numbers) if isinstance(column, Columns) else column
                                    for column in piece.columns]
    if names is None or len(columns) != len(names) or len({len(column) for column in columns}) > 1:
        raise ValueError(f"columns that do not rebuild {piece.cls.__name__}")
    for index in piece.shared:
        column = columns[index]
        kind = shareable_class(column, however_many=True)  # (what the writer said is checked: a -0.0 is never 0.0)
        if kind is None:
            continue
        kept: dict[Any, Any] = {} if numbers is None else numbers.of(kind)
        columns[index] = list(map(kept.setdefault, column, column))
    return list(map(piece.cls, *columns))


class SharedNumbers:
    """The numbers read so far, one object per value and class (an int never stands for an equal float). Bounded,
    as anything a capture can make grow: a class's values start over when they are ``limit``."""

    def __init__(self, limit: int = 1 << 20) -> None:
        self.limit = limit
        self._kept: dict[type, dict[Any, Any]] = {int: {}, float: {}}

    def of(self, kind: type) -> dict[Any, Any]:
        kept = self._kept[kind]
        if len(kept) >= self.limit:
            kept.clear()
        return kept


def _worth_sharing(column: tuple[Any, ...] | Columns) -> bool:
    return not isinstance(column, Columns) and shareable_class(column) is not None


def shareable_class(column: Sequence[Any], *, however_many: bool = False) -> type | None:
    """``int`` or ``float`` when equal values of ``column`` may be one object; else None.

    Numbers of one class only (None aside), so that 1 and 1.0 (equal, and equal keys) never stand for each other,
    nor 0.0 for -0.0 (a float column holding a -0.0 is never shared); not ints that CPython keeps one object of each
    already; and, unless ``however_many``, fewer distinct values than half the column (sharing a column of ids would
    only cost time)."""
    kinds = set(map(type, column))  # (not the distinct values' kinds: a set keeps one of 1 and 1.0)
    kinds.discard(type(None))
    if kinds != {int} and kinds != {float}:
        return None
    if not however_many and len(set(column)) * 2 > len(column):
        return None
    if kinds == {int}:
        numbers = set(column)
        numbers.discard(None)
        return None if min(numbers) >= -5 and max(numbers) <= 256 else int
    return None if 0.0 in column and any(map(_negative_zero, column)) else float


def _negative_zero(value: float | None) -> bool:
    return value is not None and value == 0.0 and math.copysign(1.0, value) < 0


class ModelPickler(pickle.Pickler):
    """A pickler for the model (``pickle.Unpickler`` reads what it writes; no code of ours runs but __init__).

    ``reducers``: how the layers above the model keep their own values (a reduction, or NotImplemented for
    pickle's own way)."""

    def __init__(self, *args: Any, reducers: Mapping[type, Callable[[Any], Any]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reducers = dict(reducers or {})

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        reducer = self._reducers.get(cls)
        if reducer is not None:
            return reducer(obj)
        if cls is FrameLog:
            # Rebuilt without its __init__: NEWOBJ and the slots set in C.
            slots = {"_packed": bytes(obj._packed), "_kinds": tuple(obj._kinds), "_spilled": obj._spilled}
            return _NEWOBJ, (FrameLog,), (None, slots)
        names = init_fields(cls)
        if names is None:
            return NotImplemented
        return cls, tuple([getattr(obj, name) for name in names])
