#!/usr/bin/env bash
# The main job: set up what is missing, then open the inspector (on the bundled demo capture by default).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/scripts/setup.sh"
exec "$here/.venv/bin/pushscope" "$@"
