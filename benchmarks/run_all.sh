#!/bin/bash
# The benchmark passes recorded in docs/benchmarks.md. Usage: benchmarks/run_all.sh OUTDIR
# (needs piper-tts and the eval extra for the last two steps).
set -u
O=$(realpath -m "$1"); mkdir -p "$O"
cd "$(dirname "$0")/.." && . .venv/bin/activate

{ date; uptime; } > $O/meta.txt
tts bench --modes sequential,parallel,batched,pipelined --texts paragraph,long --repeats 5 --json $O/bench.json --csv $O/bench.csv > $O/bench.txt 2>&1
python benchmarks/compare_piper.py --rounds 7 --json $O/piper.json > $O/piper.txt 2>&1
python benchmarks/ttfa.py --rounds 5 > $O/ttfa.txt 2>&1
python benchmarks/startup.py --rounds 7 > $O/startup.txt 2>&1
tts bench --modes sequential,sequential+int8,pipelined,pipelined+int8 --texts paragraph --repeats 5 --json $O/int8.json > $O/int8.txt 2>&1
python benchmarks/int8_wer.py --rounds 3 > $O/wer.txt 2>&1
{ date; uptime; } >> $O/meta.txt
echo done > $O/DONE
