#!/usr/bin/env bash
# The tests: set up what is missing (tshark, the real servers, Python deps), then lint, type-check and run pytest.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
scripts/setup.sh --test
.venv/bin/ruff check pushscope tests captures bench scripts
.venv/bin/mypy  # over pushscope/, settings in pyproject.toml [tool.mypy]
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
