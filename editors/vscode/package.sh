#!/usr/bin/env bash
# Build the Exhort VS Code extension into a .vsix, from the committed package-lock.json.
# Needs Node 20+ and the npm registry (or a warm npm cache); downloads no VS Code.
# Usage: editors/vscode/package.sh [OUT.vsix]   (default: editors/vscode/exhort-<version>.vsix)
set -euo pipefail
cd "$(dirname "$0")"

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "package.sh: Node 20 or newer is needed (found $(node --version))" >&2
  exit 1
fi

version="$(node -p 'require("./package.json").version')"
out="${1:-$PWD/exhort-$version.vsix}"

export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
# Exactly the locked dependency tree; npm ci refuses a lock file that disagrees with package.json.
# Skipped when node_modules was installed by this script from the same lock file.
lock_sum="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"
if [ "$(cat node_modules/.exhort-lock-sum 2>/dev/null)" != "$lock_sum" ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$lock_sum" > node_modules/.exhort-lock-sum
fi
rm -rf out
node_modules/.bin/tsc -p ./
# --skip-license: the licence is declared in package.json (Apache-2.0, as the repository).
node_modules/.bin/vsce package --skip-license --allow-missing-repository --out "$out" >&2
# The same sources give the same .vsix, byte for byte: the archive records a time per entry,
# so every entry is dated to the last commit (a fixed date outside a git checkout), and vsce
# walks node_modules in no fixed order, so the extension's files are written sorted by name
# (the manifest entries stay first, in vsce's order).
epoch="$(git log -1 --format=%ct 2>/dev/null || echo 315532800)"
python3 - "$out" "$epoch" <<'PY'
import os, sys, time, zipfile
path, stamp = sys.argv[1], time.gmtime(int(sys.argv[2]))[:6]
def order(entry):
    inside = entry.filename.startswith("extension/")
    return (inside, entry.filename if inside else "")
with zipfile.ZipFile(path) as source, zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_DEFLATED) as target:
    for entry in sorted(source.infolist(), key=order):
        dated = zipfile.ZipInfo(entry.filename, date_time=stamp)
        dated.external_attr, dated.create_system = entry.external_attr, 3
        target.writestr(dated, source.read(entry.filename), zipfile.ZIP_DEFLATED)
os.replace(path + ".tmp", path)
PY
echo "$out"
