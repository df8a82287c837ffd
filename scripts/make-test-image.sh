#!/usr/bin/env bash
# Builds the test image berth/busybox:latest without any registry, from the host's static
# busybox (Debian's busybox-static): /bin/busybox, a /bin/<applet> symlink per applet, and the
# empty dirs /etc /proc /sys /dev /mnt /tmp, imported with `docker import`.
#
# The Rust tests build the same image themselves (berth-testkit's ensure_test_image); this
# script is for humans and CI, so a missing busybox or Docker fails loudly and early.
#
# Usage: scripts/make-test-image.sh [--force]   (--force rebuilds an existing image)
set -euo pipefail

IMAGE="berth/busybox:latest"
BUSYBOX="/bin/busybox"
IMAGE_PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

force=false
case "${1:-}" in
  "") ;;
  --force) force=true ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

if ! docker info >/dev/null 2>&1; then
  echo "make-test-image: cannot reach the Docker engine; start it with \`dockerd &\` (as root)" \
    "or run \`bash .ci/run\`" >&2
  exit 1
fi

old_id="$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
if [[ "$force" == false && -n "$old_id" ]]; then
  echo "make-test-image: $IMAGE already exists (use --force to rebuild)"
  exit 0
fi

if [[ ! -x "$BUSYBOX" ]]; then
  echo "make-test-image: $BUSYBOX is missing: apt-get install -y busybox-static" >&2
  exit 1
fi
if ! "$BUSYBOX" --list >/dev/null; then
  echo "make-test-image: $BUSYBOX --list failed: is it Debian's busybox-static?" >&2
  exit 1
fi

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT

mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" \
  "$rootfs/mnt" "$rootfs/tmp"
chmod 0755 "$rootfs" "$rootfs"/*
chmod 1777 "$rootfs/tmp"
cp "$BUSYBOX" "$rootfs/bin/busybox"
chmod 0755 "$rootfs/bin/busybox"
count=0
while read -r applet; do
  case "$applet" in
    "" | busybox | */* | .*) continue ;;
  esac
  ln -s busybox "$rootfs/bin/$applet"
  count=$((count + 1))
done < <("$BUSYBOX" --list)

echo "make-test-image: importing $IMAGE (busybox with $count applet links)"
tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf - . \
  | docker import \
    --message "berth test image: the host's busybox-static" \
    --change 'CMD ["/bin/sh"]' \
    --change "ENV PATH=$IMAGE_PATH" \
    - "$IMAGE"

docker run --rm "$IMAGE" /bin/sh -c 'echo hi' | grep -qx hi \
  || { echo "make-test-image: $IMAGE was imported but cannot run /bin/sh" >&2; exit 1; }
if [[ -n "$old_id" && "$old_id" != "$(docker image inspect --format '{{.Id}}' "$IMAGE")" ]]; then
  # The rebuilt image took the tag; drop the old one unless a container still uses it.
  docker rmi "$old_id" >/dev/null 2>&1 || true
fi
echo "make-test-image: $IMAGE is ready"
