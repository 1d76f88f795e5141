#!/usr/bin/env bash
# Rewrites requirements/lock.txt: the exact version of every package that lumina's tests and
# examples install, as the virtual environment running this script has them. Run it there after
# `pip install -e ".[test,examples]"` (with any upgrades you mean to lock) and a green `python -m pytest`:
#     bash scripts/update-lock.sh
# pip resolves lumina[test,examples] against the environment's versions (a dry run: nothing is
# installed), so the lock holds that dependency closure and nothing else the environment may hold.
# Local version labels are dropped (torch 2.13.0+cpu is locked as 2.13.0: either build satisfies it).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p requirements
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python -m pip freeze --all --exclude-editable | sed -E 's/\+[A-Za-z0-9.]+$//' > "$work/installed.txt"
python -m pip install --dry-run --ignore-installed --quiet --report "$work/report.json" \
    -c "$work/installed.txt" -e ".[test,examples]"
{
    cat <<'EOF'
# The exact versions lumina's tests, its examples and the ONNX conformance count were last run with.
# Install with them as constraints (the README's commands; .ci/run builds its environment this way):
#     pip install -c requirements/lock.txt -e ".[test,examples]"
# Regenerate from a virtual environment where the full test suite passes: bash scripts/update-lock.sh
# (torch is locked without its local label: 2.13.0 is met by the +cpu build and by PyPI's.)
EOF
    echo "# Resolved for Python $(python -c 'import sys; print(".".join(map(str, sys.version_info[:2])))') on $(uname -sm)."
    python - "$work/report.json" <<'EOF'
import json
import re
import sys

report = json.load(open(sys.argv[1]))
pins = {}
for item in report["install"]:
    meta = item["metadata"]
    if meta["name"].lower() != "lumina":
        pins[meta["name"]] = re.sub(r"\+[A-Za-z0-9.]+$", "", meta["version"])
for name in sorted(pins, key=str.lower):
    print(f"{name}=={pins[name]}")
EOF
} > requirements/lock.txt
echo "wrote requirements/lock.txt ($(grep -vc '^#' requirements/lock.txt) packages)"
