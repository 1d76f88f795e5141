#!/usr/bin/env bash
# System packages lumina needs beyond pip: Graphviz's `dot` (graph.to_dot() -> SVG, `lumina viz`).
# Installs only what is missing, through apt (Debian/Ubuntu); run as root or with sudo available.
set -euo pipefail
if command -v dot >/dev/null 2>&1; then
    echo "graphviz: $(dot -V 2>&1)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "install-system-deps: need root (or sudo) to apt-get install graphviz" >&2; exit 1
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: no apt-get here; install Graphviz (the 'dot' binary) with your package manager" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends graphviz >/dev/null
echo "graphviz: $(dot -V 2>&1)"
