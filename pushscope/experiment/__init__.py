"""``pushscope experiment``: push against no push against preload, under shaped network conditions.

``profiles`` says what a network profile means, ``shaper`` is the user-space relay that imposes it (delay,
bandwidth, datagram loss), ``path_check`` measures the shaped path before any run, ``statistics`` compares the
strategies (medians, interquartile ranges, bootstrap intervals) without I/O.
"""
