"""``pushscope experiment``: push against no push against preload, under shaped network conditions.

``profiles`` says what a network profile means, ``shaper`` is the user-space relay that imposes it (delay,
bandwidth, datagram loss; in a process of its own), ``path_check`` measures the shaped path before any run,
``runner`` loads the page per strategy and profile, interleaved, ``metrics`` reads one run from the probe's own
record, ``statistics`` compares the strategies (medians, interquartile ranges, bootstrap intervals) without I/O,
``report`` and ``html`` write it. The inspector's live view is ``pushscope/cli/experiment_live.py``.
"""
