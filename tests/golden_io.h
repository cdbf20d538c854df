/* hkref — test helper: golden tensors (tools/golden/case.h cases) read as f32,
 * for the tests that run the f32 fast path on golden cases. */
#ifndef HK_TEST_GOLDEN_IO_H
#define HK_TEST_GOLDEN_IO_H

#include "ref/tensorfile.h"

/* Tensor `name` of g (n elements, asserted) into dst as f32 -- the golden
 * generator makes every input exact in binary32.  0 if g has no such tensor. */
int hk_test_gold_f32(const hk_st_file *g, const char *name, float *dst, long n);

/* Writes to out_path the golden file's out.* / grad.* tensors alone: what an
 * honest backend that reproduces the reference writes (the checker refuses a
 * copy of the golden file itself, which carries its format marker). */
void hk_test_write_backend_outputs(const char *golden_file, const char *out_path);

/* Rewrites dir/MANIFEST with the current SHA-256 of every file it lists (a
 * test that edits a golden file on purpose and wants the checker to judge
 * the edit itself, not refuse the set as altered). */
void hk_test_remanifest(const char *dir);

#endif
