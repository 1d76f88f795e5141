#!/usr/bin/env bash
# System programs lumina's tests use beyond pip: Graphviz's `dot` (graph.to_dot() -> SVG, `lumina viz`).
# Installs only what is missing: apt-get (Debian/Ubuntu; as root or through sudo) or Homebrew.
# The README's test command runs this first. Where nothing can install it, this says so and exits 0
# (the tests that need `dot` skip, naming it), except under CI=true, where it fails: CI runs them.
set -euo pipefail
if command -v dot >/dev/null 2>&1; then
    echo "graphviz: $(dot -V 2>&1)"
    exit 0
fi

cannot() {
    echo "install-system-deps: cannot install Graphviz's dot here: $1" >&2
    if [ "${CI:-}" = "true" ]; then exit 1; fi
    echo "install-system-deps: the tests that need dot will skip; install Graphviz to run them" >&2
    exit 0
}

if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; else
            cannot "apt-get needs root, and sudo is missing or asks for a password"
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq || cannot "apt-get update failed"
    $SUDO apt-get install -y -qq --no-install-recommends graphviz >/dev/null || cannot "apt-get install graphviz failed"
elif command -v brew >/dev/null 2>&1; then
    brew install graphviz || cannot "brew install graphviz failed"
else
    cannot "neither apt-get nor brew is available; install Graphviz with your package manager"
fi
echo "graphviz: $(dot -V 2>&1)"
