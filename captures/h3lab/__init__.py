"""pushscope HTTP/3 capture lab: real aioquic push traffic on loopback, with key logs and ground truth.

Modules:
  server     an aioquic HTTP/3 server that serves the demo site and pushes on the page request (also a script,
             for the probe tests)
  client     an aioquic HTTP/3 client that loads pages like a browser and records every push's fate
  scenarios  the scenario table used by ``captures/make_h3_captures.py``

The demo site (bytes, references, cache headers) is the HTTP/2 lab's ``captures/lab/site.py``, so both
protocols are judged on the same pages; the capture (``lab.capture.Capture(..., transport="udp")``), the
certificate and the command line (``lab.runner``) are the HTTP/2 lab's too.
"""

CLIENT_NAME = "pushscope-lab-h3client"
CLIENT_VERSION = "0.1"
SERVER_NAME = "aioquic"
