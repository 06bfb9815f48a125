#!/usr/bin/env bash
# Builds and runs examples/consumer two ways, as a user of tapegrad would:
#   1. against an installed copy (make install PREFIX=...), found with pkg-config;
#   2. with tapegrad as a meson subproject, in a debug build of the consumer, checking that the
#      library itself is still compiled optimised and that no test, example or benchmark is built.
# Usage: examples/consumer/check.sh [WORKDIR]   (default: a fresh temporary folder, removed after)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
[ $# -ge 1 ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"

echo "--- 1. installed copy, found by pkg-config"
make -C "$root" install PREFIX="$work/prefix" >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
pc=$(dirname "$(find "$work/prefix" -name tapegrad.pc | head -n 1)")
PKG_CONFIG_PATH="$pc" meson setup "$work/installed" "$root/examples/consumer" >"$work/setup1.log" 2>&1 ||
    { cat "$work/setup1.log"; exit 1; }
grep -q "Run-time dependency tapegrad found: YES" "$work/setup1.log" || { echo "tapegrad not found by pkg-config"; exit 1; }
ninja -C "$work/installed" >/dev/null
(cd "$work" && "$work/installed/consumer" "$work/ckpt1")
# The same with nothing but the compiler and pkg-config:
PKG_CONFIG_PATH="$pc" g++ -O2 "$root/examples/consumer/consumer.cpp" -o "$work/consumer-gxx" \
    $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs tapegrad)
"$work/consumer-gxx" "$work/ckpt-gxx" | tail -n 1

echo "--- 2. tapegrad as a meson subproject, consumer in a debug build"
cp -r "$root/examples/consumer" "$work/sub"
mkdir -p "$work/sub/subprojects"
ln -s "$root" "$work/sub/subprojects/tapegrad"
meson setup "$work/sub-build" "$work/sub" --buildtype=debug --force-fallback-for=tapegrad >"$work/setup2.log" 2>&1 ||
    { cat "$work/setup2.log"; exit 1; }
ninja -C "$work/sub-build" >/dev/null
# Optimised whatever the parent's build type: the library's compile commands say -O2, the consumer's -O0.
python3 - "$work/sub-build/compile_commands.json" <<'PY'
import json, sys
cmds = json.load(open(sys.argv[1]))
lib = [c["command"] for c in cmds if "autograd/tape.cpp" in c["file"]]
mine = [c["command"] for c in cmds if c["file"].endswith("consumer.cpp")]
assert lib and " -O2" in lib[0] and " -O0" not in lib[0], "tapegrad not optimised in a debug parent"
assert mine and " -O0" in mine[0], "the consumer's own build type was not kept"
built = {c["file"] for c in cmds}
extra = [f for f in built if "/tests/" in f or "/bench/" in f or "/examples/translator" in f]
assert not extra, f"the subproject built more than the library: {extra[:3]}"
print(f"subproject: {len(lib)} library file at -O2 ({len(built) - 1} library sources), consumer at -O0, nothing else built")
PY
(cd "$work" && "$work/sub-build/consumer" "$work/ckpt2")
echo "consumer: both ways ok"
