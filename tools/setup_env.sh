#!/usr/bin/env bash
# Create or refresh the project-local virtual environment (.venv). Idempotent:
# a second run with unchanged requirements returns in about a second.
#
# - A torch already importable by $PYTHON (e.g. a CUDA build on a GPU box) is
#   kept: the venv then sees the system site-packages and torch is not
#   reinstalled. Otherwise requirements/torch.txt is installed.
# - A real full mmcv (with mmcv._ext) is kept; otherwise mmcv-lite is used.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${MMWSSS_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
STAMP="$VENV/.mmwsss-stamp"
cd "$ROOT"

want=$(cat requirements/*.txt setup.py | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
    && "$VENV/bin/python" -c "import mmwsss" >/dev/null 2>&1; then
    echo "[setup] $VENV is up to date"
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    if "$PY" -c "import torch" >/dev/null 2>&1; then
        echo "[setup] using the torch of $PY ($("$PY" -c 'import torch; print(torch.__version__)'))"
        "$PY" -m venv --system-site-packages "$VENV"
    else
        "$PY" -m venv "$VENV"
    fi
fi
VPY="$VENV/bin/python"
pip_install() { "$VPY" -m pip install --disable-pip-version-check "$@"; }

pip_install -q 'setuptools<82' wheel
if ! "$VPY" -c "import torch" >/dev/null 2>&1; then
    echo "[setup] installing torch + torchvision (requirements/torch.txt)"
    pip_install -r requirements/torch.txt
elif ! "$VPY" -c "import torchvision" >/dev/null 2>&1; then
    echo "[setup] ERROR: torch $("$VPY" -c 'import torch; print(torch.__version__)') is installed" \
         "but torchvision is not. Install the torchvision release built for this torch" \
         "(see https://pytorch.org/get-started/previous-versions/) and rerun." >&2
    exit 1
fi

mm_reqs=requirements/mminstall.txt
if "$VPY" - <<'PY' >/dev/null 2>&1
import importlib.util, sys
sys.exit(0 if importlib.util.find_spec('mmcv._ext') else 1)
PY
then
    echo "[setup] full mmcv with compiled ops found: keeping it (no mmcv-lite)"
    mm_reqs=$(mktemp)
    grep -v '^mmcv-lite' requirements/mminstall.txt > "$mm_reqs"
fi
echo "[setup] installing OpenMMLab stack and runtime requirements"
pip_install -q -r "$mm_reqs" -r requirements/runtime.txt -r requirements/tests.txt 'setuptools<82'
pip_install -q --no-build-isolation --no-deps -e .
"$VPY" -c "import mmwsss, mmseg.models, mmpretrain.models; print('[setup] mmwsss', mmwsss.__version__, 'ready')"
echo "$want" > "$STAMP"
