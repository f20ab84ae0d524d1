"""HTTP's own rules, shared by the active probe (a client applying them) and the analysis (judging a capture).

Below both, above only ``events`` (for the ``Headers`` type) and ``safe_text``: header lookups (``headers``),
URLs that never raise and the form push matching compares (``urls``), caching freshness as a browser's private
cache applies it (``freshness``, RFC 9111), the references a document or stylesheet makes (``references``) and
undoing Content-Encoding with an output cap (``bodies``). No I/O, no model.
"""
