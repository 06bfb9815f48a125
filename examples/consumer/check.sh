#!/usr/bin/env bash
# Builds and runs examples/consumer as a user of tapegrad would:
#   1. against an installed copy (make install PREFIX=...), found with pkg-config, by meson, by the
#      compiler alone and by CMake (pkg_check_modules ... IMPORTED_TARGET); every public header of the
#      tree is installed and compiles on its own as <tapegrad/...>; make install built the library only;
#   2. against an installed shared library (make install LIBRARY=shared);
#   3. with tapegrad as a meson subproject, in a debug build of the consumer, checking that the
#      library itself is still compiled optimised and that no test, example or benchmark is built;
#   4. make deps on a system without dpkg: found with pkg-config, nothing installed;
#   5. a build folder configured for another source tree: refused, saying what to do.
# Usage: examples/consumer/check.sh [WORKDIR]   (default: a fresh temporary folder, removed after)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
[ $# -ge 1 ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"

echo "--- 1. installed copy, found by pkg-config"
# A build folder of its own, so that installing builds nothing but the library.
make -C "$root" install BUILD="$work/lib-build" PREFIX="$work/prefix" >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
built=$(find "$work/lib-build" -type f \( -name '*.o' \) | grep -v 'tapegrad.*\.p/' | head -n 3 || true)
[ -z "$built" ] || { echo "make install built more than the library: $built"; exit 1; }
[ ! -e "$work/lib-build/tests/tests" ] || { echo "make install built the tests"; exit 1; }
inc=$(find "$work/prefix" -type d -name include | head -n 1)
missing=0
for h in $(cd "$root" && ls tapegrad.hpp autograd/*.hpp layers/*.hpp optim/*.hpp io/*.hpp text/*.hpp viz/*.hpp \
           kernels/packed.hpp kernels/rows.hpp kernels/threads.hpp); do
    [ -f "$inc/tapegrad/$h" ] || { echo "public header not installed: $h"; missing=1; }
    printf '#include <tapegrad/%s>\nint main() {}\n' "$h" > "$work/one.cpp"
    g++ -std=c++20 -fsyntax-only -I"$inc" "$work/one.cpp" || { echo "<tapegrad/$h> does not compile on its own"; missing=1; }
done
[ ! -e "$inc/autograd" ] && [ ! -e "$inc/tapegrad/autograd/detail" ] && [ ! -e "$inc/tapegrad/kernels/kernels.hpp" ] ||
    { echo "headers installed outside tapegrad/ or private ones"; missing=1; }
[ "$missing" = 0 ] || exit 1
echo "every public header installed, each compiles alone as <tapegrad/...>"
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
# CMake, through the pkg-config file's imported target:
PKG_CONFIG_PATH="$pc" cmake -S "$root/examples/consumer" -B "$work/cmake-build" >"$work/cmake.log" 2>&1 ||
    { cat "$work/cmake.log"; exit 1; }
cmake --build "$work/cmake-build" >"$work/cmake-build.log" 2>&1 || { cat "$work/cmake-build.log"; exit 1; }
(cd "$work" && "$work/cmake-build/consumer" "$work/ckpt-cmake" | tail -n 1)

echo "--- 2. installed shared library"
make -C "$root" install BUILD="$work/shared-build" PREFIX="$work/shared" LIBRARY=shared >"$work/install2.log" 2>&1 ||
    { cat "$work/install2.log"; exit 1; }
so=$(find "$work/shared" -name 'libtapegrad.so' | head -n 1)
[ -n "$so" ] || { echo "no libtapegrad.so installed"; exit 1; }
pc2=$(dirname "$(find "$work/shared" -name tapegrad.pc | head -n 1)")
PKG_CONFIG_PATH="$pc2" g++ -O2 "$root/examples/consumer/consumer.cpp" -o "$work/consumer-so" \
    $(PKG_CONFIG_PATH="$pc2" pkg-config --cflags --libs tapegrad) -Wl,-rpath,"$(dirname "$so")"
ldd "$work/consumer-so" | grep -q "$so" || { echo "the consumer did not link the shared library"; exit 1; }
"$work/consumer-so" "$work/ckpt-so" | tail -n 1
echo "--- 3. tapegrad as a meson subproject, consumer in a debug build"
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
echo "--- 4. make deps without dpkg: what is installed is found with pkg-config"
make -C "$root" --no-print-directory deps DPKG_QUERY=no-such-dpkg-query
make -C "$root" --no-print-directory deps DPKG_QUERY=no-such-dpkg-query PKGCONFIG_NEEDED=no-such-library 2>"$work/deps.log" &&
    { echo "make deps did not notice a missing library"; exit 1; }
grep -q "no-such-library" "$work/deps.log" || { cat "$work/deps.log"; exit 1; }
echo "--- 5. a build folder copied from another checkout is refused with what to do"
mkdir -p "$work/copy/build/meson-info"
cp "$root/Makefile" "$work/copy/"
printf '{"directories": {"source": "%s", "build": "%s"}}\n' "$root" "$root/build" > "$work/copy/build/meson-info/meson-info.json"
make -C "$work/copy" --no-print-directory check-build-dir 2>"$work/copy.log" && { echo "a foreign build folder was accepted"; exit 1; }
grep -q "make clean" "$work/copy.log" || { cat "$work/copy.log"; exit 1; }
echo "consumer: every way ok"
