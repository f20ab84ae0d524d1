"""The capture-independent model (connections, exchanges, pushes), built by folding pushscope.events."""
