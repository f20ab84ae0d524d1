"""The active probe: a push-accepting client that loads a page like a browser and records it as events.

``pushscope probe URL`` (see :mod:`pushscope.cli.probe`). The probe's HTTP/2 (``h2``) and HTTP/3 (aioquic)
connections feed the exact bytes they send and receive into the same sans-IO decoders a capture goes through,
so the model, the verdicts and the reports are the capture's. On top, the probe knows what it did with every
push: it says so in the same stream, as events (``RunStarted``/``RunFinished`` around each page load, a
``PushTruthRecorded`` per push). It emits events and nothing else; the model builder attaches them and the
analysis compares them with the verdicts, as for any source.

Entry points: ``session.run_session(options)`` runs a whole session and returns its items;
``stream.ProbeEventStream(options)`` yields them as they happen (for the inspector).

Modules: ``connection`` (shared types), ``h2_client``, ``h3_client``, ``page_loader``, ``http_cache``,
``session`` (runs), ``truth`` (the probe's truth for one push), ``stream`` (the session on a thread),
``recording`` (``--save`` files) and ``session_schema`` (their lines' schema).
"""

from pushscope.sources.probe.connection import ProbeError, ProbeOptions

__all__ = ["ProbeError", "ProbeOptions"]
