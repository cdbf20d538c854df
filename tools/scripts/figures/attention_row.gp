# Figure: the weights of one attention row under no dropout, DropKey and the three DropAttention
# variants, with the same mask.  Data: hkref demo attention --logits ... --mask ... --csv (row.csv).
load dir.'/common.gp'
f = data.'/row.csv'
stats f skip 2 using 5 name "W" nooutput
top = W_max * 1.6
set title "One attention row under every method, the same mask (keys 1 and 4 dropped)\n{/*0.85 DropKey = both normalized DropAttention variants (theorem 1); classic DropAttention rescales by 1/(1 - p), p = 0.4}"
set xlabel "key j  (its logit g_j)"
set ylabel "attention weight"
set xrange [-0.6:5.6]
set yrange [0:top]
set ytics 0, 0.1, ceil(W_max * 10) / 10.0
set key top center maxrows 3 width -3 reverse Left samplen 1.5 font ",11" opaque box lc rgb "#cccccc"
set bmargin 5
set xlabel offset 0,-0.8
set style fill solid 0.9 border lc rgb "#333333"
bw = 0.15
plot f skip 2 using 2:($4 == 1 ? top : 1/0):(0.96) with boxes fs solid 0.35 noborder lc rgb "#f4cccc" title "dropped key (mask = 1)", \
     '' skip 2 using ($2 - 2*bw):5:(bw) with boxes lc rgb "#9e9e9e" title "no dropout: w = softmax(g)", \
     '' skip 2 using ($2 - bw):6:(bw) with boxes lc rgb "#1f77b4" title "DropKey: softmax(g + mask {/Symbol \264} (-{/Symbol \245}))", \
     '' skip 2 using ($2):7:(bw):xtic(sprintf("key %d\n(g = %.1f)", $2, $3)) with boxes lc rgb "#ff7f0e" title "DropAttention classic: w (1 - mask) / (1 - p)", \
     '' skip 2 using ($2 + bw):8:(bw) with boxes lc rgb "#2ca02c" title "DropAttention normalized, NoGrad (the paper's)", \
     '' skip 2 using ($2 + 2*bw):9:(bw) with boxes lc rgb "#9467bd" title "DropAttention normalized, gradient through the sum"
