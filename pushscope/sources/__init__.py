"""The only layer with I/O: tshark over capture files, live capture, and the active probe.

Every source yields pushscope.events; tshark's types never leave this package.
"""
