#!/usr/bin/env bash
# Installs what the repo needs on a fresh machine with Node, npm, Python 3 and pip:
#   - Node 22 (the Lambda runtime, nodejs22.x) when the machine's node is older: the version in
#     .nvmrc, from the npm registry's node-<os>-<arch> package, into a user-local folder
#     (NETKIT_NODE_HOME, default ~/.local/share/netkit/node-v<version>-<os>-<arch>);
#   - the pinned pnpm, the locked npm dependencies, and the Python tools (moto, cfn-lint).
# Idempotent: a second run downloads and installs nothing.
#
# Run it (`bash scripts/bootstrap.sh`) to install, or source it (`. scripts/bootstrap.sh`) to also
# keep the Node it picked first on PATH in your shell: scripts/test.sh and scripts/demo.sh source it,
# so pnpm, turbo, vitest, tsx and every child process run on Node 22.

netkit_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Puts a Node >= the .nvmrc major first on PATH, installing the .nvmrc version when needed.
netkit_use_node() {
  local want major have os arch home tmp pkg
  want="$(tr -d ' \r\n' <"$netkit_root/.nvmrc")"
  want="${want#v}"
  major="${want%%.*}"
  have="$(node -p 'process.versions.node' 2>/dev/null || true)"
  if [ -n "$have" ] && [ "${have%%.*}" -ge "$major" ]; then
    return 0
  fi
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) echo "bootstrap: no npm package of Node for $(uname -s); install Node >= $major yourself" >&2; return 1 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "bootstrap: no npm package of Node for $(uname -m); install Node >= $major yourself" >&2; return 1 ;;
  esac
  home="${NETKIT_NODE_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/netkit/node-v$want-$os-$arch}"
  if [ "$("$home/bin/node" -p 'process.versions.node' 2>/dev/null || true)" != "$want" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "bootstrap: Node ${have:-(none)} is older than $major and npm is missing to fetch Node $want" >&2
      return 1
    fi
    pkg="node-$os-$arch@$want"
    echo "==> installing Node $want (found ${have:-none}) from the npm package $pkg into $home"
    tmp="$(mktemp -d)"
    # npm pack checks the tarball against the registry's integrity hash.
    if ! (cd "$tmp" && npm pack "$pkg" --silent >/dev/null); then
      rm -rf "$tmp"
      echo "bootstrap: could not download $pkg" >&2
      return 1
    fi
    mkdir -p "$tmp/node" "$(dirname "$home")" || return 1
    tar -xzf "$tmp"/node-"$os"-"$arch"-*.tgz -C "$tmp/node" --strip-components=1 package/bin package/LICENSE || true
    if [ "$("$tmp/node/bin/node" -p 'process.versions.node' 2>/dev/null || true)" != "$want" ]; then
      rm -rf "$tmp"
      echo "bootstrap: the node binary in $pkg does not run here" >&2
      return 1
    fi
    rm -rf "$home"
    mv "$tmp/node" "$home" || return 1
    rm -rf "$tmp"
  fi
  export PATH="$home/bin:$PATH"
  hash -r
}

netkit_bootstrap() (
  set -euo pipefail
  cd "$netkit_root"
  PNPM_VERSION="$(node -p "require('./package.json').packageManager.split('@')[1]")"
  PYTHON="${PYTHON:-python3}"

  if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
    echo "==> installing pnpm@$PNPM_VERSION"
    if ! npm install --global "pnpm@$PNPM_VERSION" >/dev/null 2>&1; then
      echo "    npm install --global failed (permissions?); trying corepack"
      corepack enable && corepack prepare "pnpm@$PNPM_VERSION" --activate
    fi
    hash -r
  fi

  # Compares installed versions with requirements-dev.txt through package metadata only (importing
  # moto takes seconds): name[extras]==version, and the server extra's flask must be there too.
  if ! "$PYTHON" - <<'PY' >/dev/null 2>&1
import importlib.metadata as m, re
for line in open("requirements-dev.txt"):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, extras, version = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[([^\]]*)\])?==(\S+)", line).groups()
    assert m.version(name) == version, name
    if extras and "server" in extras.split(","):
        m.version("flask")
PY
  then
    echo "==> installing Python tools: $(grep -v '^#' requirements-dev.txt | xargs)"
    "$PYTHON" -m pip install --quiet -r requirements-dev.txt
  fi

  # Skip the install when nothing it reads changed since the last one (same lockfile, manifests,
  # workspace file, pnpm and node): a second bootstrap takes a second, not a minute.
  stamp="$(cat pnpm-lock.yaml pnpm-workspace.yaml package.json packages/*/package.json tools/*/package.json \
    infra/package.json test/package.json 2>/dev/null | cksum) pnpm $PNPM_VERSION node $(node --version)"
  if [ -d node_modules/.pnpm ] && [ "$(cat node_modules/.netkit-install 2>/dev/null || true)" = "$stamp" ]; then
    echo "==> dependencies up to date (node $(node --version), pnpm $(pnpm --version))"
  else
    echo "==> pnpm install --frozen-lockfile (node $(node --version), pnpm $(pnpm --version))"
    pnpm install --frozen-lockfile --reporter=silent
    printf '%s\n' "$stamp" >node_modules/.netkit-install
  fi
)

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  netkit_use_node
  netkit_bootstrap
else
  # Called plainly, not in an `||` list: bash ignores `set -e` inside a function run in one.
  netkit_use_node || return 1
  netkit_bootstrap
  netkit_status=$?
  [ "$netkit_status" -eq 0 ] || return "$netkit_status"
fi
