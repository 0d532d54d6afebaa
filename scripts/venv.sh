# Sourced by scripts/demo and scripts/test: make (once) and activate the project's virtual
# environment, .venv, so nothing is installed into the system Python (a stock Debian has
# only `python3`, and its pip is externally managed). Set PYTHON to pick another
# interpreter (3.11 or newer).
py=${PYTHON:-python3}
if ! command -v "$py" >/dev/null 2>&1; then
  echo "no $py on PATH: install Python 3.11 or newer (apt-get install python3)"; exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$py" -c "import ensurepip, venv" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "== apt-get install python3-venv (to make .venv)"
      (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq \
        && apt-get install -y -qq --no-install-recommends python3-venv) >/dev/null \
        || { echo "apt-get install python3-venv failed"; exit 1; }
    else
      echo "$py cannot make a virtual environment: install python3-venv (as root: apt-get install python3-venv)"
      exit 1
    fi
  fi
  echo "== making the virtual environment .venv ($("$py" --version))"
  "$py" -m venv .venv || { rm -rf .venv; echo "could not make .venv with $py"; exit 1; }
fi
# shellcheck disable=SC1091
. .venv/bin/activate
venv_python="$PWD/.venv/bin/python"
