#!/usr/bin/env bash
# Installs the PyTorch trainer (reasonloop_torch) and what it needs into a cached venv, once; later runs
# only check it. The venv: $REASONLOOP_TORCH_VENV, else ${REASONLOOP_CACHE:-~/.cache/reasonloop}/venv-torch.
#
# usage: bash trainers/torch/install.sh [--cuda]
#   default  torch 2.15.0 from PyPI without NVIDIA's CUDA libraries (the wheel, 539 MB, runs on the CPU
#            without them; with them the download is several GB): the CPU trainer and the tests
#   --cuda   torch 2.15.0 with its CUDA 13 dependencies, for GPU machines
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${REASONLOOP_TORCH_VENV:-${REASONLOOP_CACHE:-$HOME/.cache/reasonloop}/venv-torch}"
cuda=0
case "${1:-}" in
  --cuda) cuda=1 ;;
  "") ;;
  *) echo "usage: bash trainers/torch/install.sh [--cuda]" >&2; exit 2 ;;
esac

py="$venv/bin/python"
if [ ! -x "$py" ]; then
  echo "torch trainer: creating the venv $venv"
  python3 -m venv "$venv" || { echo "torch trainer: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
pip_install() { "$py" -m pip install --disable-pip-version-check --quiet "$@"; }
# Which modules are absent, found without importing them (importing torch takes seconds).
absent() { "$py" -c 'import importlib.util as u, sys; print(*[m for m in sys.argv[1:] if u.find_spec(m) is None])' "$@"; }

if [ -n "$(absent torch)" ]; then
  if [ "$cuda" = 1 ]; then
    echo "torch trainer: installing torch 2.15.0 with CUDA (several GB)"
    pip_install torch==2.15.0
  else
    echo "torch trainer: installing torch 2.15.0 without the CUDA libraries (539 MB)"
    pip_install --no-deps torch==2.15.0
    # torch's own requirements but the NVIDIA ones (its wheel's Requires-Dist).
    pip_install filelock 'typing-extensions>=4.13.0' 'setuptools>=77.0.3' 'sympy>=1.13.3' 'networkx>=2.5.1' \
      jinja2 'fsspec>=0.8.5'
  fi
fi
# peft: the LoRA export test loads our adapter directories with it (test/integration/export).
want=(transformers==5.24.0 'safetensors>=0.4' temporalio==1.35.0 'boto3>=1.34' 'pytest>=8' peft==0.21.2)
if [ -n "$(absent transformers safetensors temporalio boto3 pytest peft)" ]; then
  echo "torch trainer: installing ${want[*]}"
  pip_install "${want[@]}"
fi
# The package itself from this checkout, as `pip install -e` would (a .pth file: no build, instant);
# the last checkout to run this is the one the venv imports (tests put theirs first on PYTHONPATH).
site="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$here" >"$site/reasonloop_torch.pth"
echo "torch trainer: ready in $venv"
