"""A push's evidence as the cache keeps it: the facts it shows, not its rendered texts.

Rendered, the evidence of 200,000 pushes is 600,000 objects and as many strings (over 200 MiB read back at 1 GB);
the ``Explanation`` the analysis made is a few references per push. Each piece of the cache is pickled on its
own, so those references are kept as ``ModelRef``s (an exchange, a push, a connection by its place in the model)
and resolved once the whole model is read (``restore_explanations``). An explanation holding anything else than
the values named here is kept rendered, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pushscope.analysis.evidence import Explanation, Sample
from pushscope.analysis.index import ReferenceSeen
from pushscope.analysis.links import PreloadLink
from pushscope.analysis.refusal import Refusal
from pushscope.analysis.rules import RULES
from pushscope.http.references import Reference
from pushscope.model.details import ModelDetails
from pushscope.model.entities import Capture, Connection, Exchange, Push, Reset
from pushscope.model.pickling import ModelRef

# Values kept as they are: they point at nothing in the model.
_PLAIN = frozenset({str, int, float, bool, type(None), Reset, Refusal, PreloadLink, Reference})


class _NotKept(Exception):
    """A value this module cannot keep by reference: the explanation is kept rendered."""


@dataclass(frozen=True, slots=True)
class KeptExplanation:
    """An ``Explanation`` in the cache, until ``restore_explanations`` makes it one again."""

    rule: int  # its index in ``RULES`` (a rule's test is a lambda: not picklable)
    origin: float
    exchange: int | None  # the pushed exchange's id
    connection: str | None
    references: tuple[tuple[int, Reference, float | None, str], ...]  # ReferenceSeen, its document by id
    rest: tuple[Any, ...]  # the facts shown, names and values; a value in the model as a ModelRef

    def restored(self, push: Push, capture: ModelDetails) -> Explanation:
        if not 0 <= self.rule < len(RULES):
            raise ValueError(f"no rule {self.rule}")
        explanation = Explanation.__new__(Explanation)
        explanation.push, explanation._rule, explanation._origin = push, RULES[self.rule], self.origin
        explanation.exchange = None if self.exchange is None else _exchange(self.exchange, capture)
        explanation.connection = None if self.connection is None else _connection(self.connection, capture)
        explanation.references = tuple([ReferenceSeen(_exchange(document, capture), reference, needed_at, assumed)
                                        for document, reference, needed_at, assumed in self.references])
        explanation._rest = _restored(self.rest, capture)
        return explanation


def keep_explanation(explanation: Explanation) -> Any:
    """The pickler's reduction of an explanation (see ``ModelPickler``'s ``reducers``): a ``KeptExplanation``, or
    NotImplemented (pickle's own way: rendered) when it holds what cannot be named."""
    try:
        rule = RULES.index(explanation._rule)
        exchange, connection = explanation.exchange, explanation.connection
        if (exchange is not None and type(exchange) is not Exchange) or \
                (connection is not None and type(connection) is not Connection):
            raise _NotKept("not the model's own")
        if any(type(seen) is not ReferenceSeen or type(seen.document) is not Exchange
               for seen in explanation.references):
            raise _NotKept("a reference that is not a document's")
        references = tuple([(seen.document.id, seen.reference, seen.needed_at, seen.assumed)
                            for seen in explanation.references])
        return KeptExplanation, (rule, explanation._origin, None if exchange is None else exchange.id,
                                 None if connection is None else connection.id, references,
                                 _kept(explanation._rest))
    except (ValueError, AttributeError, _NotKept):
        return NotImplemented


def restore_explanations(capture: Capture) -> None:
    """Every kept explanation of the model made whole again (ValueError: one names what the model lacks)."""
    for push in capture.pushes:
        evidence: object = push.evidence  # (a KeptExplanation as read, whatever the field's type says)
        if type(evidence) is KeptExplanation:
            push.evidence = evidence.restored(push, capture)


def _kept(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is Exchange or kind is Push:
        return ModelRef("exchange" if kind is Exchange else "push", value.id)
    if kind is Connection:
        return ModelRef("connection", value.id)
    if kind is tuple:
        return tuple(map(_kept, value))
    if kind is ReferenceSeen:
        return ReferenceSeen(_kept(value.document), value.reference, value.needed_at, value.assumed)
    if kind is Sample:
        return _sample(tuple(map(_kept, value._first)), len(value))
    raise _NotKept(kind.__name__)


def _restored(value: Any, capture: ModelDetails) -> Any:
    kind = type(value)
    if kind in _PLAIN:  # (most values: the names of the facts and their texts and times)
        return value
    if kind is ModelRef:
        return _resolved(value, capture)
    if kind is tuple:
        return tuple([_restored(item, capture) for item in value])
    if kind is ReferenceSeen:
        return ReferenceSeen(_restored(value.document, capture), value.reference, value.needed_at, value.assumed)
    if kind is Sample:
        return _sample(tuple([_restored(item, capture) for item in value._first]), len(value))
    return value


def _exchange(key: int, capture: ModelDetails) -> Exchange:
    found = capture.exchange(key)
    if found is None or found.id != key:
        raise ValueError(f"the model holds no exchange {key!r}")
    return found


def _connection(key: str, capture: ModelDetails) -> Connection:
    found = capture.connections.get(key)
    if found is None:
        raise ValueError(f"the model holds no connection {key!r}")
    return found


def _push(key: int, capture: ModelDetails) -> Push:
    found = capture.pushes[key] if 0 <= key < len(capture.pushes) else None  # (as kept: its own evidence aside)
    if found is None or found.id != key:
        raise ValueError(f"the model holds no push {key!r}")
    return found


_RESOLVERS = {"exchange": (int, _exchange), "push": (int, _push), "connection": (str, _connection)}


def _resolved(ref: ModelRef, capture: ModelDetails) -> Exchange | Push | Connection:
    key_type, resolve = _RESOLVERS.get(ref.kind, (None, None))
    if resolve is None or type(ref.key) is not key_type:
        raise ValueError(f"a reference to no part of the model: {ref.kind} {ref.key!r}")
    return resolve(ref.key, capture)  # type: ignore[operator]


def _sample(first: tuple[Any, ...], count: int) -> Sample:
    sample = Sample.__new__(Sample)
    sample._first, sample._count = first, count
    return sample
