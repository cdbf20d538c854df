# Figure: k = (1 - w'_u)/(1 - w_u) and 1 - k against the logit g_m of the dropped key, the formula
# (lines, computed here from exp) under the ratio of the Jacobian entries measured with hkref's
# backwards (points).  Data: hkref demo attention --logits 1,2,g_m,0.5 --mask 0,0,1,0 --csv, per g_m.
load dir.'/common.gp'
f = data.'/k_sweep.csv'
# the row (1, 2, g_m, 0.5) with key 2 dropped: S_K = sum of exp over the kept keys 0, 1, 3
SK = exp(1) + exp(2) + exp(0.5)
k(x, gu) = (1 - exp(gu)/SK) / (1 - exp(gu)/(SK + exp(x)))
set title "DropKey's gradient is k times NoGrad DropAttention's, and k falls as the dropped logit grows\n{/*0.85 row (g_0, g_1, g_2, g_3) = (1, 2, g_m, 0.5), key 2 dropped; lines: k = (1 - w'_u)/(1 - w_u) from the formula; points: J^{DK}_{uu} / J^{NG}_{uu} measured}"
set xlabel "logit g_m of the dropped key 2"
set ylabel "k (solid, filled points)   and   1 - k (dashed, open points)"
set xrange [-4.3:6.3]
set yrange [0:1.02]
set samples 400
set key at graph 0.02, graph 0.66 left Left reverse samplen 2 font ",11"
c0 = "#1f77b4"; c1 = "#d62728"; c3 = "#2ca02c"
plot NaN with lines lc rgb "#000000" lw 2 title "k from the formula (1 - k dashed)", \
     NaN with points pt 7 ps 1.1 lc rgb "#000000" title "J^{DK}_{uu} / J^{NG}_{uu} measured (1 - it: open)", \
     k(x, 2) with lines lc rgb c1 lw 2 title "u = 1 (g_u = 2)", \
     k(x, 1) with lines lc rgb c0 lw 2 title "u = 0 (g_u = 1)", \
     k(x, 0.5) with lines lc rgb c3 lw 2 title "u = 3 (g_u = 0.5)", \
     1 - k(x, 2) with lines lc rgb c1 dt 2 notitle, \
     1 - k(x, 1) with lines lc rgb c0 dt 2 notitle, \
     1 - k(x, 0.5) with lines lc rgb c3 dt 2 notitle, \
     f skip 1 using 1:($2 == 1 ? $5 : 1/0) with points pt 7 ps 1.1 lc rgb c1 notitle, \
     '' skip 1 using 1:($2 == 0 ? $5 : 1/0) with points pt 7 ps 1.1 lc rgb c0 notitle, \
     '' skip 1 using 1:($2 == 3 ? $5 : 1/0) with points pt 7 ps 1.1 lc rgb c3 notitle, \
     '' skip 1 using 1:($2 == 1 ? 1 - $5 : 1/0) with points pt 6 ps 1.1 lc rgb c1 notitle, \
     '' skip 1 using 1:($2 == 0 ? 1 - $5 : 1/0) with points pt 6 ps 1.1 lc rgb c0 notitle, \
     '' skip 1 using 1:($2 == 3 ? 1 - $5 : 1/0) with points pt 6 ps 1.1 lc rgb c3 notitle
