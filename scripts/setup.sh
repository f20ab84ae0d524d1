#!/usr/bin/env bash
# Installs what pushscope needs on a fresh Debian machine, then the package into .venv.
#   scripts/setup.sh          what the inspector needs (tshark, python3 with venv)
#   scripts/setup.sh --test   also the real servers and tools the tests start (nginx, h2o, apache2, nghttp2, ...)
# Idempotent: it installs only what is missing, so running it before every command is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v tshark >/dev/null || missing+=(tshark)
if (( want_test )); then
  command -v dumpcap >/dev/null || missing+=(tshark)
  command -v nginx >/dev/null || missing+=(nginx)
  command -v h2o >/dev/null || missing+=(h2o)
  [[ -x /usr/sbin/apache2 ]] || missing+=(apache2)
  command -v nghttpd >/dev/null || missing+=(nghttp2-server)
  command -v nghttp >/dev/null || missing+=(nghttp2-client)
  command -v curl >/dev/null || missing+=(curl)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v tmux >/dev/null || missing+=(tmux)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi

if (( ${#missing[@]} )); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # wireshark-common asks whether non-root users may capture; answer it so apt never waits for a person.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" ca-certificates >&2
fi

stamp=.venv/.pushscope-installed
extra=""
(( want_test )) && extra="[test]"
if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" || "$(cat "$stamp" 2>/dev/null)" != *"$extra"* ]]; then
  .venv/bin/python -m pip install -q --upgrade pip >&2
  .venv/bin/python -m pip install -q -e ".${extra}" >&2
  echo "installed${extra}" > "$stamp"
fi

# The HAR viewers the export tests check against (PerfCascade, har-validator): npm packages pinned by
# tests/js/package-lock.json, installed into tests/js/node_modules (not committed).
if (( want_test )) && [[ ! -d tests/js/node_modules || tests/js/package-lock.json -nt tests/js/node_modules ]]; then
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error >&2) && touch tests/js/node_modules
fi
