"""The inspector's widgets, one per module: waterfall, connections tree, detail pane, summary and diagnostics."""
