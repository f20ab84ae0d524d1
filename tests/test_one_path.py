"""One path from any source to any view: one fold loop, one tshark row-dispatch loop, the inspector handed its
loader by the CLI (with the same key-log choice as every command), and its export written by the one writer."""

from __future__ import annotations

import ast
import shutil
import threading
from pathlib import Path

import pytest

import pushscope
from pushscope.cli import main
from pushscope.events import (
    ConnectionOpened,
    Diagnostic,
    Endpoint,
    HeadersReceived,
    SourceFinished,
    SourceItem,
    SourceProgress,
)
from pushscope.output import OutputError
from pushscope.pipeline import Load, Loader

PACKAGE = Path(pushscope.__file__).resolve().parent
CAPTURES = PACKAGE.parent / "captures"
DISPATCH_KEYS = ("tcp.stream", "udp.stream")


def _modules() -> list[tuple[str, ast.Module]]:
    return [(str(path.relative_to(PACKAGE.parent)), ast.parse(path.read_text(encoding="utf-8")))
            for path in sorted(PACKAGE.rglob("*.py"))]


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]


def _innermost_function(tree: ast.Module, target: ast.AST) -> str:
    """The name of the innermost function holding ``target`` ("<module>" if none)."""
    best, size = "<module>", None
    for function in _functions(tree):
        if any(node is target for node in ast.walk(function)):
            span = (function.end_lineno or 0) - function.lineno
            if size is None or span < size:
                best, size = function.name, span
    return best


def test_one_fold_loop() -> None:
    """Only ``pipeline.fold`` hands items to a builder (``CaptureBuilder.apply``): every front end and the probe
    go through it, so a new source is folded the same way everywhere."""
    applying = []
    for name, tree in _modules():
        for node in ast.walk(tree):
            # (read, not set: a finished builder sets its own ``apply`` to one that refuses every event)
            if isinstance(node, ast.Attribute) and node.attr == "apply" and isinstance(node.ctx, ast.Load):
                applying.append((name, _innermost_function(tree, node)))
    assert applying == [("pushscope/pipeline.py", "fold")], applying


def test_one_row_dispatch_loop() -> None:
    """Only ``RowDispatch.run`` loops over tshark rows handing them to the TCP and QUIC readers' ``feed``:
    capture files and live capture share it."""
    loops = []
    for name, tree in _modules():
        for loop in (n for n in ast.walk(tree) if isinstance(n, ast.For | ast.While | ast.AsyncFor)):
            inside = list(ast.walk(loop))
            feeds = any(isinstance(n, ast.Name | ast.Attribute) and (getattr(n, "id", "") or getattr(n, "attr", ""))
                        .endswith("feed") for n in inside)
            keys = any(isinstance(n, ast.Constant) and n.value in DISPATCH_KEYS for n in inside)
            if feeds and keys:
                loops.append((name, _innermost_function(tree, loop)))
    assert loops == [("pushscope/sources/row_dispatch.py", "run")], loops


def test_a_capture_file_is_dispatched_by_the_one_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    from pushscope.pipeline import load_capture
    from pushscope.sources.quic_rows import QuicRowReader
    from pushscope.sources.tcp_rows import TcpRowReader

    callers: set[str] = set()
    for reader in (TcpRowReader, QuicRowReader):
        def spy(self: object, *args: object, _feed=reader.feed) -> object:  # type: ignore[no-untyped-def]
            import sys

            callers.add(Path(sys._getframe(1).f_code.co_filename).name)
            return _feed(self, *args)

        monkeypatch.setattr(reader, "feed", spy)
    capture = load_capture(str(CAPTURES / "h3-two-connections.pcapng"), str(CAPTURES / "h3-two-connections.keys"))
    assert capture.pushes and callers == {"row_dispatch.py"}


def test_the_inspector_and_the_renderers_never_import_the_cli() -> None:
    """The CLI hands the inspector its Load; the inspector, the loader and the renderers never reach back up."""
    upward = []
    for name, tree in _modules():
        if not name.startswith(("pushscope/tui/", "pushscope/export/", "pushscope/pipeline.py", "pushscope/output.py")):
            continue
        for node in ast.walk(tree):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            upward += [(name, module) for module in modules if module.startswith("pushscope.cli")]
    assert upward == []


def _inspector_load(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> Load:
    """What ``pushscope open ARGS`` hands the inspector (the app is not started)."""
    from pushscope.tui.app import PushscopeApp

    handed: list[Load] = []
    monkeypatch.setattr(PushscopeApp, "run", lambda app: handed.append(app._load))
    assert main(["open", *argv]) == 0
    (load,) = handed
    return load


def test_inspector_honours_no_keylog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--no-keylog`` means no key log file at all in the inspector too: not even $SSLKEYLOGFILE."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    capture = tmp_path / "alone.pcapng"  # no key log beside it
    shutil.copy(CAPTURES / "nginx-push-basic.pcapng", capture)
    monkeypatch.setenv("SSLKEYLOGFILE", str(CAPTURES / "nginx-push-basic.keys"))

    with_env = Loader(_inspector_load(monkeypatch, [str(capture), "--no-cache"])).run()
    assert with_env.pushes and all(c.decrypted for c in with_env.connections.values())

    without = Loader(_inspector_load(monkeypatch, [str(capture), "--no-cache", "--no-keylog"])).run()
    assert without.connections and not without.exchanges
    assert not any(c.decrypted for c in without.connections.values())
    assert any("no key log was given" in d.message for d in without.diagnostics)


def _items(requests: int = 3) -> list[SourceItem]:
    """A small source: one HTTP/2 connection with a few requests, progress, a diagnostic, the end."""
    items: list[SourceItem] = [ConnectionOpened(connection_id="t0", at=1.0, client=Endpoint("10.0.0.1", 5000),
                                                server=Endpoint("10.0.0.2", 443), transport="tls", protocol="h2")]
    for n in range(requests):
        headers = [(":method", "GET"), (":scheme", "https"), (":authority", "shop.test"), (":path", f"/{n}")]
        items.append(HeadersReceived(connection_id="t0", at=1.0 + n, sender="client", stream_id=1 + 2 * n,
                                     headers=headers, end_stream=True, wire_length=20))
        items.append(SourceProgress(done=n + 1, total=requests, unit="packets", detail=""))
    items += [Diagnostic(level="info", message="read", code="read"), SourceFinished()]
    return items


def test_loader_folds_what_a_source_yields_and_stops_when_told() -> None:
    """The loader applies events and diagnostics, hands progress over, and stops early when ``after_item`` asks."""
    progress: list[SourceProgress] = []
    capture = Loader(Load(lambda cancel: iter(_items()), "shop.pcapng"), on_progress=progress.append,
                     analyser=lambda c: c).run()
    assert [p.done for p in progress] == [1, 2, 3] and len(capture.exchanges) == 3
    assert capture.name == "shop.pcapng" and [d.code for d in capture.diagnostics] == ["read"]

    cancel = threading.Event()
    seen: list[int] = []

    def after_item() -> bool:
        seen.append(1)
        if len(seen) == 3:
            cancel.set()
        return cancel.is_set()

    loader = Loader(Load(lambda cancel: iter(_items()), "x"), cancel=cancel, after_item=after_item,
                    analyser=lambda c: c)
    stopped = loader.run()
    assert len(seen) == 3 and loader.cancelled and len(stopped.exchanges) == 1
    assert [d.code for d in stopped.diagnostics] == ["cancelled"]


def test_inspector_export_goes_through_the_one_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The inspector's export is written by ``pushscope.output.write_output``, like ``report -o``: never over a
    file being inspected, and a file named ``-`` is a file, not standard output."""
    from pushscope.tui import export

    capture = Loader(Load(lambda cancel: iter(_items()), "shop.pcapng")).run()
    inspected = tmp_path / "shop.pcapng"
    inspected.write_bytes(b"the capture being inspected")
    with pytest.raises(OutputError, match="input"):
        export.write_report(capture, "json", inspected, inputs=(str(inspected),))
    assert inspected.read_bytes() == b"the capture being inspected"

    written: list[str | None] = []
    real = export.write_output
    monkeypatch.setattr(export, "write_output",
                        lambda data, path, *, inputs=(): (written.append(path), real(data, path, inputs=inputs)))
    monkeypatch.chdir(tmp_path)
    path = export.write_report(capture, "text", Path("-"))
    assert written == [str(tmp_path / "-")] and path.read_text().startswith("pushscope")
