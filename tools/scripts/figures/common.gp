# hkref figures: the shared look (loaded by every figure script; `data` and `out` come from figures.sh).
set terminal pngcairo size 1000,600 enhanced font "DejaVu Sans,12" linewidth 1.5
set output out
set datafile separator comma
set datafile missing "nan"
set grid ytics lc rgb "#dddddd"
set border 3
set tics nomirror
