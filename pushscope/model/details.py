"""What the detail pane reads of a model: one exchange, one push, a connection at a time.

A ``Capture`` answers it from memory; a kept model (``pushscope.kept_model``) reads from the cache only what is
asked, so a reopened gigabyte never holds its exchanges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from pushscope.model.entities import Connection, Exchange, Push


class ModelDetails(Protocol):
    @property
    def started_at(self) -> float | None: ...

    @property
    def connections(self) -> Mapping[str, Connection]: ...

    @property
    def pushes(self) -> Sequence[Push]:
        """Every push, by id; their evidence may not be ready to render: ``push`` makes it so."""
        ...

    @property
    def probed(self) -> bool: ...

    def exchange(self, exchange_id: int | None) -> Exchange | None: ...

    def push(self, push_id: int | None) -> Push | None:
        """The push, its evidence ready to render."""
        ...

    def pushes_on_stream(self, connection_id: str, stream_id: int | None) -> list[Push]: ...
