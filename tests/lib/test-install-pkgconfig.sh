#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-install-pkgconfig.sh BUILD_ROOT EXAMPLE_C
#
# What an embedder does, against this build's own install: `meson install`
# into a scratch DESTDIR, compile EXAMPLE_C (docs/examples/embed-minimal.c)
# with only `pkg-config --cflags --libs raftd` and -lev, check that the
# program loads libraftd.so.0 from that DESTDIR, and run it: it must put a
# key and read it back on a fresh one-node cluster, and again after a
# restart from the same data directory.
#
# Environment from meson: MESON (the meson command), CC (the build's C
# compiler), SANITIZE (b_sanitize), COVERAGE (b_coverage): an instrumented
# library needs an instrumented program.
set -euo pipefail

build_root=$1
example=$2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/raftd-lib-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
destdir=$tmp/root

fail() {
        echo "FAIL: $*"
        exit 1
}

read -r -a meson_cmd <<<"$MESON"
"${meson_cmd[@]}" install -C "$build_root" --no-rebuild --quiet --destdir "$destdir" ||
        fail "meson install --destdir $destdir failed"

mapfile -t pcs < <(find "$destdir" -name raftd.pc)
((${#pcs[@]} == 1)) || fail "expected one installed raftd.pc, found ${#pcs[@]}: ${pcs[*]}"
export PKG_CONFIG_PATH=${pcs[0]%/*}
# The .pc names the real prefix; point it into the DESTDIR.  (Unlike
# PKG_CONFIG_SYSROOT_DIR this leaves the system paths of tdb and libsodium
# alone.)
prefix=$(pkg-config --variable=prefix raftd)
pc=(pkg-config "--define-variable=prefix=$destdir$prefix")
libdir=$("${pc[@]}" --variable=libdir raftd)
includedir=$("${pc[@]}" --variable=includedir raftd)
[[ -f $includedir/raftd.h ]] || fail "raftd.h is not installed in $includedir"
[[ -e $libdir/libraftd.so.0 ]] || fail "libraftd.so.0 is not installed in $libdir"
echo "installed: $("${pc[@]}" --modversion raftd), $("${pc[@]}" --cflags --libs raftd)"
# Static linking must learn about libev, which has no .pc of its own.
grep -qw -- -lev <<<"$("${pc[@]}" --static --libs raftd)" || fail "raftd.pc does not list -lev for static linking"

read -r -a cc <<<"$CC"
flags=(-std=gnu17 -Wall -Wextra -Werror)
[[ ${SANITIZE:-none} != none ]] && flags+=("-fsanitize=$SANITIZE")
[[ ${COVERAGE:-false} == true ]] && flags+=(--coverage)
read -r -a pc_flags <<<"$("${pc[@]}" --cflags --libs raftd)"
"${cc[@]}" "${flags[@]}" -o "$tmp/embed-minimal" "$example" "${pc_flags[@]}" -lev ||
        fail "the example does not compile against the installed library"

export LD_LIBRARY_PATH=$libdir
LD_TRACE_LOADED_OBJECTS=1 "$tmp/embed-minimal" | grep -F "libraftd.so.0 => $libdir/" ||
        fail "the example does not load libraftd.so.0 from $libdir"

for run in first restart; do
        out=$("$tmp/embed-minimal" "$tmp/data") || fail "the example exited with $? on the $run run: $out"
        printf '%s\n' "$out"
        grep -qx 'greeting = hello (revision [0-9]*)' <<<"$out" || fail "no value read back on the $run run"
done
echo "ok: a program built with pkg-config against the installed libraftd runs"
