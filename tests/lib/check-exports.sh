#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-exports.sh LIBRARY HEADER
#
# Guards the ABI of libraftd.so: the dynamic symbol table must hold the
# functions that HEADER declares and nothing else.  Reports every problem,
# one per line, then exits 1 if there was any:
#   - a defined dynamic symbol that does not start with raftd_ (an internal
#     name leaked into the ABI); the linker's own symbols (the version node,
#     _init, _fini, _edata, _end, __bss_start) are allowed;
#   - a raftd_ symbol that HEADER does not declare (e.g. the internal
#     raftd_node_session());
#   - a function HEADER declares that the library does not export;
#   - an exported function whose symbol version is not
#     LIBRAFTD_API_<RAFTD_API_VERSION of HEADER>;
#   - a soname other than libraftd.so.0.
set -euo pipefail

lib=$1
header=$2
failed=0

problem() {
        echo "FAIL: $*"
        failed=1
}

api=$(sed -n 's/^#define RAFTD_API_VERSION \([0-9][0-9]*\).*/\1/p' "$header")
[[ -n $api ]] || { echo "FAIL: no RAFTD_API_VERSION in $header"; exit 1; }
node="LIBRAFTD_API_$api"

# Function declarations start at column 0 with a return type; typedefs of
# callbacks and continuation lines do not.
mapfile -t declared < <(grep -E '^[a-z]' "$header" | grep -v '^typedef' |
                        grep -oE '\braftd_[a-z0-9_]+\(' | tr -d '(' | sort -u)
((${#declared[@]} > 0)) || { echo "FAIL: no functions found in $header"; exit 1; }

# "ADDRESS TYPE NAME[@[@]VERSION]"
mapfile -t lines < <(nm -D --defined-only "$lib")
((${#lines[@]} > 0)) || { echo "FAIL: nm found no dynamic symbols in $lib"; exit 1; }

exported=()
for line in "${lines[@]}"; do
        read -r _ type sym <<<"$line"
        name=${sym%%@*}
        version=
        [[ $sym == *@* ]] && version=${sym##*@}
        case $name in
        _init | _fini | _edata | _end | __bss_start)
                continue ;;
        esac
        # A version node is an absolute symbol named after itself.
        if [[ $type == A && ( -z $version || $version == "$name" ) ]]; then
                [[ $name == "$node" ]] || problem "version node $name, expected $node (RAFTD_API_VERSION $api)"
                continue
        fi
        if [[ $name != raftd_* ]]; then
                problem "exported symbol $name is not part of the raftd_ API"
                continue
        fi
        exported+=("$name")
        [[ $version == "$node" ]] || problem "$name has symbol version '${version}', expected $node"
done

mapfile -t exported < <(printf '%s\n' "${exported[@]}" | sort -u)
while read -r name; do
        [[ -n $name ]] && problem "exported symbol $name is not declared in $(basename "$header")"
done < <(comm -23 <(printf '%s\n' "${exported[@]}") <(printf '%s\n' "${declared[@]}"))
while read -r name; do
        [[ -n $name ]] && problem "$(basename "$header") declares $name but the library does not export it"
done < <(comm -13 <(printf '%s\n' "${exported[@]}") <(printf '%s\n' "${declared[@]}"))

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == libraftd.so.0 ]] || problem "soname '$soname', expected libraftd.so.0"

if ((failed)); then
        exit 1
fi
echo "ok: $lib exports exactly the ${#declared[@]} functions of $(basename "$header") as $node"
