"""The active probe: a push-accepting client that loads a page like a browser and records it as events.

``pushscope probe URL`` (see :mod:`pushscope.cli.probe`). The probe's HTTP/2 (``h2``) and HTTP/3 (aioquic)
connections feed the exact bytes they send and receive into the same sans-IO decoders a capture goes through,
so the model, the verdicts and the reports are the capture's; on top, the probe knows what it did with every
push (its ground truth) and says where the capture-style verdict disagrees.

Modules: ``connection`` (shared types), ``h2_client``, ``h3_client``, ``page_loader``, ``http_cache``,
``session`` (runs), ``truth`` (the probe's truth and its agreement with the verdicts), ``report`` (JSON and
text reports), ``recording`` (``--save`` files).
"""

from pushscope.sources.probe.connection import ProbeError, ProbeOptions

__all__ = ["ProbeError", "ProbeOptions"]
