#!/usr/bin/env bash
# Validates the Kubernetes manifests against the API schemas (strict: unknown fields are errors)
# with kubernetes-validate from PyPI, installed into a private virtual environment. Needs
# python3 with venv and, the first time, access to PyPI; the schemas ship inside the package, so
# validation itself is offline. Usage: cluster/k8s/validate.sh [KUBERNETES-VERSION (default 1.30.0)]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
log() { echo "validate.sh: $*" >&2; }
k8s_version=${1:-1.30.0}
venv=${TS_K8S_VALIDATE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/thermosweep/k8s-validate-venv}
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    # Debian splits venv (with its ensurepip) out of python3.
    apt_install python3-venv
    python3 -m venv "$venv" || { echo "validate.sh: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 1; }
    "$venv/bin/pip" install -q 'kubernetes-validate==1.37.0'
fi
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT
bash "$here/secrets.sh" --placeholder >"$tmp/secrets.yaml"
"$venv/bin/kubernetes-validate" --strict -k "$k8s_version" \
    "$here/coordinator.yaml" "$here/workers.yaml" "$tmp/secrets.yaml"
echo "validate.sh: the manifests are valid for Kubernetes $k8s_version (strict)"
