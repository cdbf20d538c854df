/* hkref — the hook points where dropout methods plug into attention and the
 * encoder block.  attention.c / encoder.c call them; dropkey.c,
 * dropattention.c, hiddencut.c provide them.  Keeping them as plain function
 * pointers means attention never needs to know which method is active.
 *
 * Shapes: attention logits and weights are (B,NH,T,T) row-major, one softmax
 * per (b,h,query) row of T keys.  The hidden representation of the FFN is
 * (B,T,C).  A NULL hook function means "identity".  Every function returns
 * an int status from ref/error.h.
 *
 * Backward convention: the hook's backward maps the gradient of its output
 * to the gradient of its input; `d_in` is accumulated (+=), like every other
 * backward in ref/. */
#ifndef HK_HOOKS_H
#define HK_HOOKS_H

typedef struct {
    void *ctx;
    /* Additive term on the logits before softmax (DropKey, key padding is
     * separate): g_out = g_in + term.  g_out may alias g_in. */
    int (*logits_forward)(void *ctx, double *g_out, const double *g_in, long B, long NH, long T);
    /* d_in (B,NH,T,T) += J^T d_out. g_in is the hook's input. */
    int (*logits_backward)(void *ctx, double *d_in, const double *d_out, const double *g_in, long B, long NH,
                           long T);
    /* Transform of the weights after softmax (DropAttention): w_out = f(w_in). */
    int (*weights_forward)(void *ctx, double *w_out, const double *w_in, long B, long NH, long T);
    /* d_in (B,NH,T,T) += J^T d_out; w_in, w_out are the forward's input and output. */
    int (*weights_backward)(void *ctx, double *d_in, const double *d_out, const double *w_in, const double *w_out,
                            long B, long NH, long T);
} hk_attn_hooks;

typedef struct {
    void *ctx;
    /* Transform of the FFN hidden representation (output of the FFN's second
     * linear, before residual + LayerNorm; HiddenCut): h_out = f(h_in). */
    int (*forward)(void *ctx, double *h_out, const double *h_in, long B, long T, long C);
    /* d_in (B,T,C) += J^T d_out. */
    int (*backward)(void *ctx, double *d_in, const double *d_out, const double *h_in, long B, long T, long C);
} hk_hidden_hook;

#endif
