#!/usr/bin/env bash
# Runs the README quick start in a scratch directory and checks each step's output.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
lockbox="node $root/bin/lockbox.cjs"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
$lockbox init
printf 's3cr3t' | $lockbox set db/password
test "$($lockbox get db/password)" = "s3cr3t"
out="$($lockbox run -- node -e 'console.log(process.env.DB_PASSWORD)')"
test "$out" = "[REDACTED]" || { echo "run output was not masked: $out"; exit 1; }
printf 'db:\n  password: ${secret:db/password}\n' > app.yaml
test "$($lockbox resolve app.yaml)" = "$(printf 'db:\n  password: s3cr3t')"
echo "quickstart: ok"
