#!/usr/bin/env bash
# Runs the README's install command, exactly as written there, from a fresh copy of the checkout
# with a fresh home, then safe-npm on a fixture project. Usage: readme-install.sh CHECKOUT SCRATCH
set -euo pipefail
checkout="$1"
scratch="$2"
cd "$checkout"
install_cmd="$(grep -E '^sh scripts/install-bwrap.sh && npm ci && npm pack' README.md)"
[ -n "$install_cmd" ] || { echo "README: install command not found" >&2; exit 1; }
cp -r fixtures/projects/hello "$scratch/hello"
mkdir -p "$scratch/src" "$scratch/home"
git ls-files -z | xargs -0 cp --parents -t "$scratch/src"
cd "$scratch/src"
export HOME="$scratch/home"
sh -euc "${install_cmd//\/path\/to\/your\/project/$scratch/hello} && safe-npm --version && safe-npm run greet" |
  tee "$scratch/greet.txt"
grep -q "hello from safe-npm" "$scratch/greet.txt"
