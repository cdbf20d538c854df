# Figure: the gradient of one kept weight w'_u with respect to every logit, DropKey vs NoGrad
# DropAttention: NoGrad sends -w'_u w_m to the dropped logits (Eq. 8), DropKey exactly 0.
# Data: the same row as attention_row (row.csv: columns focus, jrow_dropkey, jrow_nograd, leak_formula).
load dir.'/common.gp'
f = data.'/row.csv'
stats f skip 2 using 15 name "U" nooutput
u = int(U_min)
stats f skip 2 using 17 name "N" nooutput
stats f skip 2 using 16 name "D" nooutput
lo = (N_min < D_min ? N_min : D_min) * 1.35
hi = (N_max > D_max ? N_max : D_max) * 1.45
set title sprintf("The gradient of the kept weight w'_%d with respect to every logit (same row and mask as the weights figure)\n{/*0.85 NoGrad DropAttention sends -w'_u w_m to each dropped logit m (Eq. 8); DropKey sends exactly 0 there}", u)
set xlabel "logit g_j of key j"
set ylabel sprintf("{/Symbol \266} w'_%d / {/Symbol \266} g_j", u)
set xrange [-0.6:5.6]
set yrange [lo:hi]
set xzeroaxis lt -1 lw 1
set key top left reverse Left samplen 1.5 font ",11" opaque
set bmargin 5
set xlabel offset 0,-0.8
set style fill solid 0.9 border lc rgb "#333333"
bw = 0.3
plot f skip 2 using 2:($4 == 1 ? hi : 1/0):(0.96) with boxes fs solid 0.35 noborder lc rgb "#f4cccc" title "dropped key (mask = 1)", \
     '' skip 2 using 2:($4 == 1 ? lo : 1/0):(0.96) with boxes fs solid 0.35 noborder lc rgb "#f4cccc" notitle, \
     '' skip 2 using ($2 - bw/2):16:(bw) with boxes lc rgb "#1f77b4" title "DropKey (measured)", \
     '' skip 2 using 2:(1/0):xtic(sprintf("key %d%s", $2, $4 == 1 ? "\n(dropped)" : ($2 == u ? "\n(= u)" : ""))) notitle, \
     '' skip 2 using ($2 + bw/2):17:(bw) with boxes lc rgb "#2ca02c" title "DropAttention NoGrad (measured)", \
     '' skip 2 using ($2 + bw/2):18 with points pt 3 ps 2.2 lw 2 lc rgb "#000000" title "formula -w'_u w_m at dropped m"
