#!/bin/sh
# Creates the namespace and registers the search attributes temporal-mlflow's training workflow
# upserts (PipelineName, MlflowRunId — see src/constants.ts). Idempotent.
set -eu

address="${TEMPORAL_ADDRESS:-temporal:7233}"
namespace="${TEMPORAL_NAMESPACE:-default}"
retention="${TEMPORAL_NAMESPACE_RETENTION:-72h}"

echo "temporal-namespace: waiting for the Temporal server at $address..."
attempt=0
until temporal operator cluster health --address "$address" >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  [ "$attempt" -lt 60 ] || { echo "temporal-namespace: server not healthy after 60 attempts" >&2; exit 1; }
  sleep 2
done

if temporal operator namespace describe --namespace "$namespace" --address "$address" >/dev/null 2>&1; then
  echo "temporal-namespace: namespace '$namespace' exists"
else
  temporal operator namespace create --namespace "$namespace" --retention "$retention" --address "$address"
fi

# A new namespace reaches every frontend's cache only after a few seconds.
attempt=0
until existing="$(temporal operator search-attribute list --namespace "$namespace" --address "$address" 2>/dev/null)"; do
  attempt=$((attempt + 1))
  [ "$attempt" -lt 60 ] || { echo "temporal-namespace: namespace '$namespace' not visible after 60 attempts" >&2; exit 1; }
  sleep 1
done
for name in PipelineName MlflowRunId; do
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "temporal-namespace: search attribute $name exists"
  else
    temporal operator search-attribute create --name "$name" --type Keyword --namespace "$namespace" --address "$address"
  fi
done
echo "temporal-namespace: done"
