#!/usr/bin/env bash
# Builds, offline, the base images the Dockerfile names, the way an offline mirror would:
#   debian:bookworm-slim   Debian bookworm from `debootstrap --variant=minbase` (Debian's apt
#                          mirror is the only package source this needs), made slim as
#                          Debian's slim images are;
#   node:20-bookworm-slim  the same plus this machine's Node 20 binary, npm and headers laid
#                          out as in the official image (/usr/local) and its `node` user.
# Each is tagged with the Dockerfile's name for it (the defaults of its NODE_IMAGE and
# DEBIAN_IMAGE build arguments), so `docker build` finds them locally and never contacts a
# registry. The Dockerfile itself stays what users build from.
#
# A tag that exists is kept (FORCE=1 rebuilds). The debootstrap tree is also kept as a
# tarball in $CACHE_DIR, so a wiped Docker data root costs a `docker import`, not a bootstrap.
#
# Site CA: when this machine trusts extra CAs (/usr/local/share/ca-certificates, e.g. an
# egress proxy's), they are added for Node (NODE_EXTRA_CA_CERTS), as a mirror serving a
# site would do, so `npm ci` inside the build can reach the registry through it.
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER=${DOCKER:-docker}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE_DIR=${CACHE_DIR:-/var/cache/gatehouse-container}
# The Dockerfile's bases: the defaults of its NODE_IMAGE and DEBIAN_IMAGE build arguments.
TAG=$(sed -n 's/^ARG NODE_IMAGE=\(.*\)$/\1/p' Dockerfile | head -n 1)
DEBIAN_TAG=$(sed -n 's/^ARG DEBIAN_IMAGE=\(.*\)$/\1/p' Dockerfile | head -n 1)
[ -n "$TAG" ] && [ -n "$DEBIAN_TAG" ] || { echo "container-base: no 'ARG NODE_IMAGE=' or 'ARG DEBIAN_IMAGE=' line in Dockerfile" >&2; exit 1; }

exists() { [ "${FORCE:-0}" != 1 ] && "$DOCKER" image inspect "$1" >/dev/null 2>&1; }
if exists "$TAG" && exists "$DEBIAN_TAG"; then
  echo "container-base: $DEBIAN_TAG and $TAG exist, nothing to do"
  exit 0
fi

NODE_BIN=$(command -v node)
NODE_VERSION=$("$NODE_BIN" --version)
case "$NODE_VERSION" in
  v20.*) ;;
  *) echo "container-base: $TAG needs Node 20, this machine has $NODE_VERSION" >&2; exit 1 ;;
esac
NODE_PREFIX=$(cd "$(dirname "$(readlink -f "$NODE_BIN")")/.." && pwd)
NPM_DIR=$NODE_PREFIX/lib/node_modules/npm
HEADERS=$NODE_PREFIX/include/node
for need in "$NPM_DIR/bin/npm-cli.js" "$HEADERS/node.h"; do
  [ -e "$need" ] || { echo "container-base: missing $need" >&2; exit 1; }
done
command -v debootstrap >/dev/null || { echo "container-base: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

mkdir -p "$CACHE_DIR"
WORK=$(mktemp -d "$CACHE_DIR/build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOTFS_TAR=$CACHE_DIR/bookworm-minbase.tar

if [ ! -s "$ROOTFS_TAR" ]; then
  echo "container-base: debootstrap --variant=minbase bookworm (from $MIRROR)"
  ROOT=$WORK/debian
  debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }
  # What makes debian:bookworm-slim slim: no documentation, manuals or locales, now or
  # from later `apt-get install`s, and no package caches.
  cat >"$ROOT/etc/dpkg/dpkg.cfg.d/docker-slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
SLIM
  cat >"$ROOT/etc/apt/apt.conf.d/docker-clean" <<'CLEAN'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CLEAN
  echo 'Acquire::Languages "none";' >"$ROOT/etc/apt/apt.conf.d/docker-no-languages"
  echo 'APT::Install-Recommends "false";' >"$ROOT/etc/apt/apt.conf.d/docker-no-recommends"
  find "$ROOT/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$ROOT/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$ROOT"/usr/share/{man,groff,info,lintian,linda}/* "$ROOT"/var/cache/apt/*.bin \
    "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/*.log \
    "$ROOT"/var/log/apt/* "$ROOT"/tmp/* "$ROOT"/var/cache/debconf/*-old
  find "$ROOT/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  : >"$ROOT/etc/machine-id"
  # /etc/hostname, hosts and resolv.conf are provided by the engine at run time.
  rm -f "$ROOT/etc/hostname" "$ROOT/etc/resolv.conf"
  tar -C "$ROOT" --numeric-owner -cf "$ROOTFS_TAR.tmp" . && mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$ROOT"
fi

size() { "$DOCKER" image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}'; }
if ! exists "$DEBIAN_TAG"; then
  "$DOCKER" import --change 'CMD ["bash"]' "$ROOTFS_TAR" "$DEBIAN_TAG" >/dev/null
  echo "container-base: tagged $DEBIAN_TAG ($(size "$DEBIAN_TAG"))"
fi
if exists "$TAG"; then
  exit 0
fi

echo "container-base: adding Node $NODE_VERSION, npm $("$NODE_BIN" "$NPM_DIR/bin/npm-cli.js" --version) and the node user"
ROOT=$WORK/node
mkdir -p "$ROOT"
tar -C "$ROOT" --numeric-owner -xf "$ROOTFS_TAR"
mkdir -p "$ROOT/usr/local/bin" "$ROOT/usr/local/lib/node_modules" "$ROOT/usr/local/include"
cp "$NODE_BIN" "$ROOT/usr/local/bin/node"
cp -a "$NPM_DIR" "$ROOT/usr/local/lib/node_modules/npm"
cp -a "$HEADERS" "$ROOT/usr/local/include/node"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
# The official image's unprivileged user.
chroot "$ROOT" groupadd --gid 1000 node
chroot "$ROOT" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
CHANGES=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  --change "ENV NODE_VERSION=${NODE_VERSION#v}" --change 'CMD ["node"]')
EXTRA_CAS=$(find /usr/local/share/ca-certificates -name '*.crt' 2>/dev/null | sort || true)
if [ -n "$EXTRA_CAS" ]; then
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  # shellcheck disable=SC2086
  cat $EXTRA_CAS >"$ROOT/usr/local/share/ca-certificates/site-extra-cas.pem"
  CHANGES+=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/site-extra-cas.pem')
  echo "container-base: site CAs added for Node: $(echo $EXTRA_CAS | xargs -n1 basename | tr '\n' ' ')"
fi
tar -C "$ROOT" --numeric-owner -c . | "$DOCKER" import "${CHANGES[@]}" - "$TAG" >/dev/null
echo "container-base: tagged $TAG ($(size "$TAG"))"
