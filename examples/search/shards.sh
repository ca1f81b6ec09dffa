#!/bin/sh
# Four shards of a one-unit search in parallel, then one merged ranking. On a Slurm
# cluster the same split comes from an array job:
#   sbatch --array=0-3 --wrap 'actc search --units 1 --db shard-$SLURM_ARRAY_TASK_ID.sqlite'
# (actc search reads SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT itself).
#
#   examples/search/shards.sh [ACTC] [EXTRA ACTC SEARCH OPTIONS...]
#   examples/search/shards.sh build/bin/actc --limit 200 --train-limit 5000
set -eu
ACTC=${1:-build/bin/actc}
[ $# -gt 0 ] && shift
for i in 0 1 2 3; do
  "$ACTC" search --space swish --units 1 --epochs 1 --shard $i/4 --no-progress \
    --db shard-$i.sqlite "$@" 2> shard-$i.log &
done
wait
"$ACTC" search report shard-0.sqlite shard-1.sqlite shard-2.sqlite shard-3.sqlite --top 10
