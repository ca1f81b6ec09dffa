#!/usr/bin/env bash
# Every seed activation's GPU kernels, emitted as PTX by actc and assembled by ptxas for
# sm_90 and sm_80. Skipped (saying so) where CUDA's ptxas is not installed.
set -euo pipefail
actc=$1 seeds=$2 out=$3
ptxas=$(command -v ptxas || true)
[ -z "$ptxas" ] && [ -x /usr/local/cuda/bin/ptxas ] && ptxas=/usr/local/cuda/bin/ptxas
if [ -z "$ptxas" ]; then
  echo "SKIP: ptxas not found (install the CUDA toolkit to assemble the PTX)"
  exit 0
fi
mkdir -p "$out"
for chip in sm_90 sm_80; do
  "$actc" emit --emit=ptx --chip "$chip" "$seeds" > "$out/seeds_$chip.ptx"
  # One PTX module per activation, each after a "// act: gpu.module @NAME" line.
  rm -f "$out/$chip"_*.ptx
  awk -v dir="$out" -v chip="$chip" '/^\/\/ act: gpu.module @/ {f = dir "/" chip "_" substr($4, 2) ".ptx"} f {print > f}' \
    "$out/seeds_$chip.ptx"
  modules=0
  for ptx in "$out/$chip"_*.ptx; do
    "$ptxas" -arch="$chip" "$ptx" -o "${ptx%.ptx}.cubin"
    modules=$((modules + 1))
  done
  entries=$(grep -c '^.visible .entry' "$out/seeds_$chip.ptx")
  echo "$chip: $entries kernels in $modules modules assembled by $ptxas"
done
