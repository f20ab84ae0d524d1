"""pushscope: see what HTTP/2 and HTTP/3 server push did: used, wasted or cache-duplicated."""

__version__ = "0.1.0"
