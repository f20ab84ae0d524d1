"""A capture restricted to some exchanges: what an export of a filtered view contains.

Exchange ids index ``Capture.exchanges``, so the kept exchanges are renumbered and every reference to them
(pushes, evidence) follows; pushes whose promised exchange is not kept are left out, as are connections
with nothing left to show. The original capture is not changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from pushscope.model.entities import Capture, Push


def subset(capture: Capture, exchange_ids: Iterable[int]) -> Capture:
    wanted = sorted(set(exchange_ids))
    renumber = {old: new for new, old in enumerate(wanted)}
    exchanges = [replace(capture.exchanges[old], id=new) for old, new in renumber.items()]
    pushes = [_renumbered(push, renumber) for push in capture.pushes if push.exchange_id in renumber]
    for index, push in enumerate(pushes):
        push.id = index
    kept_connections = {e.connection_id for e in exchanges}
    return replace(
        capture,
        name=f"{capture.name} (filtered view)",
        connections={cid: c for cid, c in capture.connections.items() if cid in kept_connections},
        exchanges=exchanges,
        pushes=pushes,
        diagnostics=list(capture.diagnostics),
    )


def _renumbered(push: Push, renumber: dict[int, int]) -> Push:
    evidence = [
        replace(item, exchange_id=renumber.get(item.exchange_id) if item.exchange_id is not None else None)
        for item in push.evidence
    ]
    return replace(push, exchange_id=renumber[push.exchange_id], evidence=evidence)  # type: ignore[index]


def is_whole(capture: Capture, exchange_ids: Iterable[int]) -> bool:
    return len(set(exchange_ids)) == len(capture.exchanges)

