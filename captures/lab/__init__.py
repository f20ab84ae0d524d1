"""pushscope capture lab: regenerates small, real HTTP/2 push captures on loopback.

Modules:
  site       the demo site (same bytes for every server)
  certs      a throw-away self-signed certificate for 127.0.0.1
  servers    config writers + start/stop for nginx, h2o, apache2 and nghttpd
  capture    the one capture helper: dumpcap on ``lo`` with a TCP or UDP port filter, free ports, key logs,
             stopping what we started by its PID, and ``record`` (server + capture around a client's traffic)
  truth      the ground truth: every push's outcome and reason (``pushscope.vocabulary`` values) decided from
             the recording client's own facts, and the truth files
  pages      what a page references and the clients' HTTP cache
  h2client   the push-accepting HTTP/2 client that writes the ground truth
  h2connection  one HTTP/2 connection of that client (h2 over a socket, its streams and pushes)
  h1client   the HTTP/1.1 client of ``make_h1_captures.py``
  extclients runners (and truth) for nghttp -nva and curl --http2
  cut        captures cut after the handshake or after a page load, and the truth that still holds
  verify     the cross-check of a capture against its truth file (tshark, or pushscope's capture reader)
  scenarios  the scenario table used by ``captures/make_captures.py``
  runner     the command line and retry loop shared by ``make_captures.py``, ``make_h1_captures.py`` and
             ``make_h3_captures.py``

The lab is the product's independent oracle: no module here imports pushscope's analysis, model, export or
pipeline (``tests/lab/test_lab_independence.py``); only its vocabulary (``pushscope.vocabulary``) and, to check
that a capture holds what the client did, its capture reader.

The probe tests (``tests/probe``) run the same servers, site and certificate.
"""

CLIENT_NAME = "pushscope-lab-h2client"
CLIENT_VERSION = "0.1"
