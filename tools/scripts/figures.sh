#!/bin/sh
# hkref — the figures of docs/figures.md, regenerated from the code: every
# number plotted comes from an hkref command (demo attention --csv, dylora
# demo / spectrum); only the closed-form curves drawn under the measured
# points are gnuplot functions of the formulas in proofs/.
# usage: tools/scripts/figures.sh [--data-only] HKREF DATADIR [PNGDIR]
#   --data-only  run the data commands and check what they wrote (the gate's
#                figures-data step: no gnuplot needed), no PNGs
#   HKREF        the hkref binary (build/hkref)
#   DATADIR      where the data files go (build/figures)
#   PNGDIR       where the PNGs go (docs/figures); needs gnuplot (make figures installs it)
set -eu
data_only=0
if [ "${1:-}" = --data-only ]; then data_only=1; shift; fi
[ $# -ge 2 ] || { echo "usage: tools/scripts/figures.sh [--data-only] HKREF DATADIR [PNGDIR]" >&2; exit 2; }
hkref=$1 data=$2 png=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$data"
fail() { echo "figures: $*" >&2; exit 1; }

# 1 + 3: one attention row of 6 keys, keys 1 and 4 dropped (the same mask for every method).
row_logits=1.2,2.5,0.3,1.9,-0.5,0.8
row_mask=0,1,0,0,1,0
"$hkref" demo attention --logits "$row_logits" --mask "$row_mask" --csv "$data/row.csv" >/dev/null

# 2: k against the logit g_m of the dropped key 2 in the row (1, 2, g_m, 0.5): one run per g_m.
: > "$data/k_sweep.csv.tmp"
echo "g_m,u,k,one_minus_k,ratio" >> "$data/k_sweep.csv.tmp"
for gm in -4 -3.5 -3 -2.5 -2 -1.5 -1 -0.5 0 0.5 1 1.5 2 2.5 3 3.5 4 4.5 5 5.5 6; do
  "$hkref" demo attention --logits "1,2,$gm,0.5" --mask 0,0,1,0 --csv - |
    awk -F, -v gm="$gm" 'NR > 2 && $4 == 0 { print gm "," $2 "," $10 "," $11 "," $14 }' >> "$data/k_sweep.csv.tmp"
done
mv "$data/k_sweep.csv.tmp" "$data/k_sweep.csv"

# 4: a DyLoRA adapter trained by `hkref dylora demo`, its truncation error per rank (dylora spectrum).
"$hkref" dylora demo --out "$data/dylora_adapter.safetensors" > "$data/dylora_demo.txt"
"$hkref" dylora spectrum "$data/dylora_adapter.safetensors" > "$data/dylora_spectrum.txt"
# the table rows "b fro fro_best ratio spec spec_best ratio" -> CSV
awk 'BEGIN { print "b,fro,fro_best,spec,spec_best" }
     $1 ~ /^[0-9]+$/ && NF == 7 { print $1 "," $2 "," $3 "," $5 "," $6 }' "$data/dylora_spectrum.txt" > "$data/dylora_spectrum.csv"
# the loss table "b floor LoRA DyLoRA frozen" (b >= 1) -> CSV
awk 'BEGIN { print "b,floor,lora,dylora,frozen" }
     $1 ~ /^[1-9][0-9]*$/ && NF == 5 { print $1 "," $2 "," $3 "," $4 "," $5 }' "$data/dylora_demo.txt" > "$data/dylora_demo.csv"

# What the figures need, or a clear failure (a changed output format must not draw an empty plot).
rows() { awk -F, 'NR > 1 && $1 !~ /^#/' "$1" | wc -l; }
[ "$(awk -F, 'NR > 2' "$data/row.csv" | wc -l)" -eq 6 ] || fail "$data/row.csv: expected 6 key rows"
[ "$(rows "$data/k_sweep.csv")" -eq 63 ] || fail "$data/k_sweep.csv: expected 21 logits x 3 kept keys = 63 rows"
n=$(rows "$data/dylora_spectrum.csv"); [ "$n" -ge 2 ] || fail "$data/dylora_spectrum.csv: no rank rows (format of 'hkref dylora spectrum' changed?)"
m=$(rows "$data/dylora_demo.csv"); [ "$m" -eq "$n" ] || fail "$data/dylora_demo.csv: $m rank rows, spectrum has $n"
if [ "$data_only" = 1 ]; then
  echo "figures: data for 4 figures in $data (row.csv, k_sweep.csv, dylora_spectrum.csv, dylora_demo.csv)"
  exit 0
fi

[ -n "$png" ] || fail "no PNGDIR given"
command -v gnuplot >/dev/null 2>&1 || fail "gnuplot is not installed: apt-get install -y gnuplot-nox (or run 'make figures' as root)"
mkdir -p "$png"
# The b = r row has exact zeros (the full update): the log axes start at the smallest value drawn.
for f in attention_row k_vs_dropped_logit nograd_leak dylora_truncation dylora_rank_loss; do
  gnuplot -e "data='$data'; out='$png/$f.png'; dir='$here/figures'" "$here/figures/$f.gp" || fail "gnuplot failed on $f.gp"
  echo "figures: wrote $png/$f.png"
done
