#!/usr/bin/env bash
# Builds the bundle that tests/gpu/device_check.cpp checks on a GPU machine without
# LLVM: PTX of every activation (actc emit --emit=ptx) plus CPU-kernel reference data.
#   tests/gpu/make_bundle.sh BUILD_DIR FILE.act OUTDIR [CHIP]
set -euo pipefail
build=$1 file=$2 out=$3 chip=${4:-sm_90}
mkdir -p "$out"
"$build/bin/act-gpu-bundle" "$file" "$out"
for name in $(awk '{print $1}' "$out/manifest.txt" | sort -u); do
  "$build/bin/actc" emit --emit=ptx --chip "$chip" --fn "$name" "$file" > "$out/$name.ptx"
done
echo "bundle: $(wc -l < "$out/manifest.txt") cases, $(ls "$out"/*.ptx | wc -l) PTX modules in $out"
