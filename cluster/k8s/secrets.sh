#!/usr/bin/env bash
# Writes the two CURVE Secrets the manifests mount, with fresh keys from `thermosweep keygen`:
#
#   secrets.sh PATH/TO/thermosweep > secrets.yaml && kubectl apply -f secrets.yaml
#   secrets.sh --placeholder > secrets.yaml     # the same shape with dummy values (validate.sh)
#
# thermosweep-coordinator-keys: coordinator.key (its secret key), workers.allow (the worker public
#   key the coordinator admits).
# thermosweep-worker-keys: worker.key (the workers' secret key), coordinator.pub.
# All workers share one key pair: a worker is admitted by holding it. For a key per worker, put
# one line per public key in workers.allow. secrets.yaml holds secret keys: keep it out of git.
set -euo pipefail

if [ "${1:-}" = --placeholder ]; then
    ckey=placeholder-coordinator-secret-key cpub=placeholder-coordinator-public-key
    wkey=placeholder-worker-secret-key wpub=placeholder-worker-public-key
else
    bin=${1:?usage: secrets.sh PATH/TO/thermosweep | --placeholder}
    tmp=$(mktemp -d)
    trap 'rm -rf -- "$tmp"' EXIT
    "$bin" keygen --out "$tmp/coordinator" >/dev/null
    "$bin" keygen --out "$tmp/worker" >/dev/null
    ckey=$(cat "$tmp/coordinator.key") cpub=$(cat "$tmp/coordinator.pub")
    wkey=$(cat "$tmp/worker.key") wpub=$(cat "$tmp/worker.pub")
fi
# Key files hold a comment line and a Z85 key, whose characters ('#', ':', '&', '*', …) YAML
# would misread in plain scalars: a literal block keeps every byte and line.
block() { printf '|\n'; printf '%s\n' "$1" | sed 's/^/    /'; }
# secret NAME KEY VALUE KEY VALUE: one Secret of two files.
secret() {
    cat <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: $1
  labels: {app.kubernetes.io/name: thermosweep}
type: Opaque
stringData:
  $2: $(block "$3")
  $4: $(block "$5")
YAML
}
secret thermosweep-coordinator-keys coordinator.key "$ckey" workers.allow "$wpub"
echo ---
secret thermosweep-worker-keys worker.key "$wkey" coordinator.pub "$cpub"
