# Figure: the toy regression loss L_b at every rank b of one adapter trained three ways (plain LoRA
# at r, DyLoRA, DyLoRA frozen), with the least loss any rank-b update can reach.
# Data: hkref dylora demo (dylora_demo.csv from its table).
load dir.'/common.gp'
f = data.'/dylora_demo.csv'
stats f skip 1 using 1 name "B" nooutput
r = int(B_max)
stats f skip 1 using ($1 == r ? $3 : 1/0) name "LR" nooutput
stats f skip 1 using ($1 == r ? $2 : 1/0) name "FL" nooutput
set title sprintf("One adapter evaluated at every rank b: DyLoRA is usable at every rank, LoRA only at its own r = %d\n{/*0.85 toy rank-%d regression (hkref dylora demo); floor: the least loss of any rank-b update (Eckart-Young on the data)}", r, r)
set xlabel "rank b the adapter is truncated to"
set ylabel "loss L_b = mean squared error (log scale)"
set logscale y
set yrange [0.05:300]
set format y "10^{%L}"
set xrange [0.7:r + 0.3]
set xtics 1
set key bottom left reverse Left font ",11" opaque
set label 1 sprintf("at b = r = %d LoRA (%.1e) and the floor (%.1e) fit exactly:\ntheir lines leave the axis downwards", r, LR_min, FL_min) at graph 0.98, graph 0.93 right font ",10"
plot f skip 1 using 1:2 with linespoints pt 5 ps 1.2 lw 2 lc rgb "#555555" dt 2 title "floor (best rank-b update)", \
     '' skip 1 using 1:3 with linespoints pt 7 ps 1.2 lw 2 lc rgb "#ff7f0e" title "LoRA trained at r, truncated", \
     '' skip 1 using 1:4 with linespoints pt 9 ps 1.4 lw 2 lc rgb "#1f77b4" title "DyLoRA (b drawn uniformly from 1..r each step)", \
     '' skip 1 using 1:5 with linespoints pt 11 ps 1.4 lw 2 lc rgb "#2ca02c" title "DyLoRA frozen mode"
