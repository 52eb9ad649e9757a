#!/usr/bin/env bash
#   install_test.sh: what `cmake --install` lays out, used as a stranger
#   would. Installs the build tree to a temporary prefix, then checks the
#   layout; builds packaging/consumer with find_package (workpool) and with
#   `pkg-config libworkpool`, and runs both; checks the systemd unit
#   (systemd-analyze verify, when there is one) and that the man pages name
#   every command and flag the programs' --help does.
#
#   usage: install_test.sh BUILD_DIR LIBDIR [CFLAGS [CC]]
#   CFLAGS: what the consumer is compiled and linked with (the sanitizer
#   flags of the build, since the library it links carries them); CC the
#   compiler of the build (default cc), whose sanitizer runtime that is.
set -u
USAGE="usage: install_test.sh BUILD_DIR LIBDIR [CFLAGS [CC]]"
BUILD=${1:?$USAGE}
LIBDIR=${2:?$USAGE}
CFLAGS=${3:-}
CC=${4:-cc}
SRC=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wp-install-test.XXXXXX")
PREFIX=$TMP/prefix
CHECKS=0
trap 'rm -rf "$TMP"' EXIT

die () {
    echo "FAIL: $*" >&2
    exit 1
}

check () {
    CHECKS=$((CHECKS + 1))
}

#   The install itself
cmake --install "$BUILD" --prefix "$PREFIX" >"$TMP/install.log" 2>&1 \
    || { cat "$TMP/install.log" >&2; die "cmake --install"; }

#   The layout
for file in bin/workpool bin/workpoold \
            include/workpool/workpool.h include/workpool/wp_status.h \
            include/workpool/wp_records.h include/workpool/wp_limits.h \
            "$LIBDIR/libworkpool.so" "$LIBDIR/libworkpool.so.0" \
            "$LIBDIR/pkgconfig/libworkpool.pc" \
            "$LIBDIR/cmake/workpool/workpool-config.cmake" \
            "$LIBDIR/cmake/workpool/workpool-config-version.cmake" \
            "$LIBDIR/cmake/workpool/workpool-targets.cmake" \
            share/man/man1/workpool.1 share/man/man8/workpoold.8 \
            lib/systemd/system/workpoold.service lib/sysusers.d/workpool.conf; do
    check
    [ -e "$PREFIX/$file" ] || die "not installed: $file"
done
#   Every header workpool.h includes is installed beside it
for header in $(sed -n 's/^#include "\(.*\)"/\1/p' "$PREFIX"/include/workpool/*.h); do
    check
    [ -e "$PREFIX/include/workpool/$header" ] || die "workpool.h needs $header, not installed"
done
check
[ ! -e "$PREFIX/include/workpool.h" ] || die "workpool.h also installed in include/"

#   A consumer with find_package (workpool)
cmake -S "$SRC/consumer" -B "$TMP/cmake-consumer" -DCMAKE_PREFIX_PATH="$PREFIX" \
      -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$CFLAGS" >"$TMP/cmake.log" 2>&1 \
    && cmake --build "$TMP/cmake-consumer" >>"$TMP/cmake.log" 2>&1 \
    || { cat "$TMP/cmake.log" >&2; die "the find_package consumer does not build"; }
check
out=$("$TMP/cmake-consumer/consumer") || die "the find_package consumer failed: $out"
[[ "$out" == "consumer: OK"* ]] || die "the find_package consumer said: $out"
#   ...and a version it cannot have is refused
mkdir -p "$TMP/too-new"
cat >"$TMP/too-new/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required (VERSION 3.16)
project (too_new LANGUAGES C)
find_package (workpool 1.0 REQUIRED)
CMAKE
check
! cmake -S "$TMP/too-new" -B "$TMP/too-new/build" -DCMAKE_PREFIX_PATH="$PREFIX" \
    >/dev/null 2>&1 || die "find_package (workpool 1.0) accepted 0.1"

#   A consumer with pkg-config: Cflags -I.../include/workpool, msgpack public
export PKG_CONFIG_PATH="$PREFIX/$LIBDIR/pkgconfig"
check
[ "$(pkg-config --variable=includedir libworkpool)" -ef "$PREFIX/include" ] \
    || die "the .pc's includedir is not the prefix's"
check
pkg-config --print-requires libworkpool | grep -q msgpack || die "msgpack is not in the .pc's Requires"
# shellcheck disable=SC2046,SC2086
"$CC" $CFLAGS -o "$TMP/pc-consumer" "$SRC/consumer/consumer.c" \
   $(pkg-config --cflags --libs libworkpool) 2>"$TMP/cc.log" \
    || { cat "$TMP/cc.log" >&2; die "the pkg-config consumer does not build"; }
check
out=$(LD_LIBRARY_PATH="$PREFIX/$LIBDIR" "$TMP/pc-consumer") \
    || die "the pkg-config consumer failed: $out"
[[ "$out" == "consumer: OK"* ]] || die "the pkg-config consumer said: $out"

#   The systemd unit: workpoold where it was installed, the state directory
UNIT=$PREFIX/lib/systemd/system/workpoold.service
check
grep -qx "ExecStart=$PREFIX/bin/workpoold --db /var/lib/workpool/workpool.db .*" "$UNIT" \
    || die "ExecStart does not name the installed workpoold: $(grep ExecStart= "$UNIT")"
for line in User=workpool StateDirectory=workpool NoNewPrivileges=yes ProtectSystem=strict \
            ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"; do
    check
    grep -qx "$line" "$UNIT" || die "the unit lacks $line"
done
if command -v systemd-analyze >/dev/null; then
    #   MANPATH: verify also finds the man pages Documentation= names
    check
    MANPATH=$PREFIX/share/man systemd-analyze verify "$UNIT" >"$TMP/verify.log" 2>&1 \
        && [ ! -s "$TMP/verify.log" ] || die "systemd-analyze verify: $(cat "$TMP/verify.log")"
fi

#   The man pages: they render without warnings and name every command of
#   `workpool --help` and every flag of `workpoold --help`
if command -v groff >/dev/null; then
    for page in share/man/man1/workpool.1 share/man/man8/workpoold.8; do
        check
        warnings=$(groff -man -ww -z "$PREFIX/$page" 2>&1)
        [ -z "$warnings" ] || die "$page: $warnings"
    done
fi
version=$("$PREFIX/bin/workpool" --version | sed 's/^workpool //')
for page in share/man/man1/workpool.1 share/man/man8/workpoold.8; do
    check
    grep -q "^\.TH .* \"workpool $version\"" "$PREFIX/$page" || die "$page is not of version $version"
done
MAN1=$(sed 's/\\-/-/g' "$PREFIX/share/man/man1/workpool.1")
for command in $("$PREFIX/bin/workpool" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p'); do
    [ "$command" = help ] && continue
    check
    grep -Eq "^(\.B[IR]? \"?$command[ \"]|\.B[IR]? $command\$|\\\\fB$command\\\\fR)" <<<"$MAN1" \
        || die "workpool.1 does not describe $command"
    for option in $("$PREFIX/bin/workpool" "$command" --help | grep -o -- '--[a-z-]*' | sort -u); do
        check
        grep -q -- "$option" <<<"$MAN1" || die "workpool.1 does not name $option (of $command)"
    done
done
MAN8=$(sed 's/\\-/-/g' "$PREFIX/share/man/man8/workpoold.8")
for flag in $("$PREFIX/bin/workpoold" --help | grep -o -- '--[a-z-]*' | sort -u); do
    check
    grep -q -- "^\.B[IR]* $flag\b" <<<"$MAN8" || die "workpoold.8 does not describe $flag"
done

echo "install_test: OK ($CHECKS checks)"
