# Figure: DyLoRA's truncation error per rank against the best rank-b approximation (Eckart-Young).
# Data: hkref dylora demo --out A; hkref dylora spectrum A (dylora_spectrum.csv from its table).
load dir.'/common.gp'
f = data.'/dylora_spectrum.csv'
stats f skip 1 using 1 name "B" nooutput
r = int(B_max)
stats f skip 1 using 2 name "F" nooutput
# below 1e-12 of the largest error a value is SVD rounding (the optimum at b = r is 0 in exact
# arithmetic; `hkref dylora spectrum` prints nan for its ratio): not drawn
floor = 1e-12 * F_max
set title sprintf("A trained DyLoRA adapter (r = %d), truncated to rank b: its error against the best rank-b update\n{/*0.85 {/Symbol D}W_b = ({/Symbol a}/b) B[:,:b] A[:b,:] (what DyLoRA evaluates) vs Eckart-Young's optimum; at b = r both are 0: not drawn on the log axis}", r)
set xlabel "rank b"
set ylabel "error in the Frobenius norm (log scale)"
set logscale y
set format y "10^{%L}"
set xrange [0.7:r + 0.3]
set xtics 1
set key bottom left reverse Left font ",11" opaque
set yrange [floor > 1e-4 * F_max ? floor : 1e-4 * F_max : 5 * F_max]
nz(v) = v > floor ? v : 1/0
plot f skip 1 using 1:(nz($2)) with linespoints pt 7 ps 1.3 lw 2 lc rgb "#1f77b4" title "||{/Symbol D}W_b - {/Symbol D}W||_F, DyLoRA's truncation", \
     '' skip 1 using 1:(nz($3)) with linespoints pt 5 ps 1.2 lw 2 lc rgb "#555555" dt 2 title "best rank-b error, sqrt({/Symbol S}_{i>b} s_i^2) (Eckart-Young)"
