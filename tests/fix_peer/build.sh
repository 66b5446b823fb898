#!/usr/bin/env bash
# Builds the QuickFIX C++ test initiator ("OMS") and fetches the FIX 4.4 data
# dictionary it validates against. Usage: tests/fix_peer/build.sh
#   OUT=path/to/oms   where the binary goes (default target/fix-peer/oms,
#                     relative to the repo root)
# Prints the binary's path on the last line of stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."                       # repo root: every path below is relative to it

OUT="${OUT:-target/fix-peer/oms}"
SRC="tests/fix_peer/oms.cpp"
DICT="target/fix-peer/FIX44.xml"
SDIST_DIR="target/fix-peer/sdist"
QF_PY_VERSION="1.16.0"                 # the PyPI sdist we take FIX44.xml from

die() { echo "fix_peer/build.sh: $*" >&2; exit 1; }

# --- the library: Debian's libquickfix-dev 1.15.1 ---------------------------
command -v pkg-config >/dev/null 2>&1 \
  || die "pkg-config not found (apt-get install pkg-config libquickfix-dev)"
pkg-config --exists quickfix \
  || die "QuickFIX C++ not found by pkg-config (apt-get install libquickfix-dev)"
command -v g++ >/dev/null 2>&1 || die "g++ not found (apt-get install g++)"

# --- the data dictionary: spec/FIX44.xml from the quickfix sdist on PyPI -----
# Debian's quickfix packages (dev, runtime, doc) ship no FIX44.xml; the PyPI
# sdist carries the upstream spec/ folder and PyPI is reachable wherever this
# project runs, so take it from there. Fetched once, then reused.
fetch_dictionary() {
  mkdir -p "$SDIST_DIR"
  local tarball
  tarball="$(ls "$SDIST_DIR"/quickfix-"$QF_PY_VERSION".tar.gz 2>/dev/null || true)"
  if [ -z "$tarball" ]; then
    python3 -m pip download "quickfix==$QF_PY_VERSION" --no-deps --no-binary :all: \
      -d "$SDIST_DIR" -q \
      || die "could not download the quickfix==$QF_PY_VERSION sdist from PyPI"
    tarball="$SDIST_DIR/quickfix-$QF_PY_VERSION.tar.gz"
  fi
  [ -f "$tarball" ] || die "expected $tarball after pip download"
  python3 - "$tarball" "$DICT" <<'PY' || die "could not extract FIX44.xml from $tarball"
import sys, tarfile, os
tarball, dest = sys.argv[1], sys.argv[2]
member = "quickfix-1.16.0/spec/FIX44.xml"
with tarfile.open(tarball) as tf:
    data = tf.extractfile(member).read()
tmp = dest + ".tmp"
with open(tmp, "wb") as f:
    f.write(data)
os.replace(tmp, dest)      # atomic: a half-written dictionary never has the final name
PY
  echo "fix_peer/build.sh: fetched $DICT" >&2
}
[ -s "$DICT" ] || fetch_dictionary

# --- the binary ----------------------------------------------------------------
# QuickFIX 1.15.1's headers use dynamic exception specifications
# (`throw( FieldNotFound )`), which C++17 removed, so build as C++14.
if [ ! -x "$OUT" ] || [ "$SRC" -nt "$OUT" ]; then
  mkdir -p "$(dirname "$OUT")"
  # shellcheck disable=SC2046  # pkg-config output must word-split
  g++ -O2 -std=c++14 -Wall -Wextra -pthread "$SRC" \
      $(pkg-config --cflags --libs quickfix) -o "$OUT.tmp" \
    || die "compiling $SRC failed"
  mv "$OUT.tmp" "$OUT"
  echo "fix_peer/build.sh: built $OUT" >&2
fi

echo "$OUT"
