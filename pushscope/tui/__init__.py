"""The terminal inspector (Textual). Imported only by ``pushscope`` / ``pushscope tui``, never by headless commands.

Layout of the package, one job per module:

- ``view``      pure: the model folded into waterfall rows and connection summaries, and the filters over them
- ``timeaxis``  pure: the zoomable, pannable time window and its tick labels
- ``fmt``       pure: byte and time formatting shared by every widget
- ``loading``   the thread worker's side: folding source items into a builder, batched update messages
- ``view_cache`` pure: the final view kept in the cache beside the model, shown first on a reopen
- ``export``    which report formats exist at runtime and writing one
- ``widgets/``  the waterfall (Line API), connections tree, detail pane, summary bar, diagnostics panel
- ``screens``   help, export and diagnostics modal screens
- ``commands``  the command-palette entries, one per action
- ``app``       ``PushscopeApp``: composition, bindings and the actions
"""
