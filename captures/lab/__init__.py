"""pushscope capture lab: regenerates small, real HTTP/2 push captures on loopback.

Modules:
  site       the demo site (same bytes for every server)
  certs      a throw-away self-signed certificate for 127.0.0.1
  servers    config writers + start/stop for nginx, h2o, apache2 and nghttpd
  capture    dumpcap on ``lo`` with a TCP or UDP port filter (the HTTP/3 lab's too)
  h2client   the push-accepting HTTP/2 client that writes the ground truth
  extclients runners (and truth) for nghttp -nva and curl --http2
  verify     the tshark cross-check of a capture against its truth file
  scenarios  the scenario table used by ``captures/make_captures.py``
  runner     the command line, retry loop and output files shared by ``make_captures.py`` and
             ``make_h3_captures.py``

The probe tests (``tests/probe``) run the same servers, site and certificate.
"""

CLIENT_NAME = "pushscope-lab-h2client"
CLIENT_VERSION = "0.1"
