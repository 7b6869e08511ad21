#!/usr/bin/env bash
# Screenshots of the desktop client, as users first see it: runs the real window under Xvfb
# on a demo group and saves a PNG of each main view into docs/screenshots/. The view `invite`
# starts a sync node (loopback only) so the invite dialog shows a real ticket.
#
# Installs nothing. Needs Xvfb, ImageMagick's `import`, xdotool and software OpenGL (Mesa); on
# Debian or Ubuntu: apt-get install xvfb imagemagick xdotool libgl1-mesa-dri libegl1
#
#   scripts/screenshots.sh                      # dark theme, 1280x820
#   QUIRE_THEME=light scripts/screenshots.sh
#   QUIRE_SIZE=720x480 scripts/screenshots.sh   # the smallest window (files end in -720x480)
#   QUIRE_ZOOM=1.5 scripts/screenshots.sh       # zoomed in (files end in -150pct)
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in Xvfb import xdotool; do
    if ! command -v "$tool" >/dev/null; then
        echo "screenshots.sh needs $tool (apt-get install xvfb imagemagick xdotool libgl1-mesa-dri)" >&2
        exit 1
    fi
done

cargo build -p quire
bin="${CARGO_TARGET_DIR:-target}/debug/quire"
out=docs/screenshots
theme="${QUIRE_THEME:-dark}"
size="${QUIRE_SIZE:-1280x820}"
zoom="${QUIRE_ZOOM:-1}"
suffix=""
if [ "$theme" = light ]; then suffix="-light"; fi
if [ "$size" != 1280x820 ]; then suffix="$suffix-$size"; fi
if [ "$zoom" != 1 ]; then suffix="$suffix-$(awk "BEGIN { print int($zoom * 100) }")pct"; fi
mkdir -p "$out"

data="$(mktemp -d)"
display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 2600x1500x24 -nolisten tcp &
xvfb=$!
app=""
cleanup() {
    if [ -n "$app" ]; then kill "$app" 2>/dev/null || true; fi
    kill "$xvfb" 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT
export DISPLAY="$display" LIBGL_ALWAYS_SOFTWARE=1 QUIRE_THEME="$theme" QUIRE_ZOOM="$zoom"
unset WAYLAND_DISPLAY
for _ in $(seq 50); do
    if xdotool getdisplaygeometry >/dev/null 2>&1; then break; fi
    sleep 0.2
done

"$bin" demo --data-dir "$data" --no-window >/dev/null
for view in for-you queue next roster member submission submit ledger activity rules profile invite; do
    "$bin" demo --data-dir "$data" --view "$view" 2>/dev/null &
    app=$!
    window="$(xdotool search --sync --onlyvisible --name 'Quire' | head -n1)"
    xdotool windowsize "$window" "${size%x*}" "${size#*x}"
    sleep 3
    import -window "$window" "$out/$view$suffix.png"
    kill "$app"
    wait "$app" 2>/dev/null || true
    app=""
    echo "saved $out/$view$suffix.png"
done
