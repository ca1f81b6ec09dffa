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
  entries=$(grep -c '^.visible .entry' "$out/seeds_$chip.ptx")
  "$ptxas" -arch="$chip" "$out/seeds_$chip.ptx" -o "$out/seeds_$chip.cubin"
  echo "$chip: $entries kernels assembled by $ptxas"
done
