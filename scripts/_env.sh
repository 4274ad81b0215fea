# Shared by scripts/demo and scripts/test: make .venv and install datamill into it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  # apt_install PKG... : install Debian packages, updating the index once.
  if [ -z "${_APT_UPDATED:-}" ]; then
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    _APT_UPDATED=1
  fi
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_venv() {
  # ensure_venv EXTRAS : create .venv once; reinstall only when pyproject.toml changed.
  local extras="$1"
  if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
  fi
  local stamp=".venv/.datamill-installed-$extras"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "==> installing datamill[$extras] into .venv (first time takes a few minutes)"
    .venv/bin/python -m pip install -q -e ".[$extras]"
    touch "$stamp"
  fi
}
