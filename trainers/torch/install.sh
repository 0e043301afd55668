#!/usr/bin/env bash
# Installs the PyTorch trainer (reasonloop_torch) and what it needs into a cached venv, once; later runs
# only check it. The venv: $REASONLOOP_TORCH_VENV, else ${REASONLOOP_CACHE:-~/.cache/reasonloop}/venv-torch.
#
# usage: bash trainers/torch/install.sh [--cuda]
#   torch 2.15.0 from PyPI with the dependencies its wheel declares, NVIDIA's CUDA 13 libraries included
#   (PyPI has no CPU-only build, and this build does not import without them: `import torch` fails on
#   libcudart.so.13). --cuda is accepted for the GPU machines' recipes and installs the same.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${REASONLOOP_TORCH_VENV:-${REASONLOOP_CACHE:-$HOME/.cache/reasonloop}/venv-torch}"
case "${1:-}" in
  --cuda) ;;
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
  echo "torch trainer: installing torch 2.15.0 with its CUDA libraries (about 5 GB installed)"
  pip_install torch==2.15.0
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
