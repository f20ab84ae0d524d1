"""Sans-IO decoders: bytes of one connection in, typed events (pushscope.events) out."""
