#!/bin/sh
# hkref — make bench: the fast path's training step against PyTorch CPU, the
# HiddenKey two-pass overhead and the matmul efficiency, in one run.
# usage: experiments/bench/bench.sh BUILD_DIR [STEPS]
# Measured for 1 and nproc threads, each with OPENBLAS_CORETYPE as the
# environment has it and unset (OpenBLAS then picks kernels for the CPU).
# PyTorch in its best configuration here: torch.set_num_threads(N) AND
# OPENBLAS_NUM_THREADS=N (torch's matmuls go to OpenBLAS, which ignores
# torch's setting), OMP_WAIT_POLICY=PASSIVE (no OpenMP spinning against
# OpenBLAS's threads), glibc malloc thresholds raised so freed activations
# are not returned to the kernel every step.  Times are the best step of
# STEPS (after 3 warm-up steps): the least disturbed one on a shared machine;
# process CPU time per step is printed too (with 1 thread it excludes time
# spent waiting for a core, so it is the fairer number when the machine is busy).
set -eu
build=$1
steps=${2:-20}
py=${PYTHON:-/usr/bin/python3}
here=$(dirname "$0")
ncpu=$(nproc 2>/dev/null || echo 2)
tun="glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=268435456:glibc.malloc.top_pad=67108864"
orig_ct=${OPENBLAS_CORETYPE:-}
out=$build/bench
mkdir -p "$out"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $ncpu cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "note: the machine is shared; numbers are the best of $steps steps and still noisy"
for th in 1 $ncpu; do
  for ct in env unset; do
    if [ "$ct" = env ]; then ctl="OPENBLAS_CORETYPE=${orig_ct:-(unset)}"; set -- env; else ctl="OPENBLAS_CORETYPE unset"; set -- env -u OPENBLAS_CORETYPE; fi
    f=$out/fast-$th-$ct.txt t=$out/torch-$th-$ct.txt
    "$@" OPENBLAS_NUM_THREADS=$th "$build/bench_fast" --threads "$th" --steps "$steps" > "$f"
    "$@" OPENBLAS_NUM_THREADS=$th OMP_NUM_THREADS=$th OMP_WAIT_POLICY=PASSIVE GLIBC_TUNABLES=$tun \
      "$py" "$here/bench_torch.py" --threads "$th" --steps "$steps" > "$t"
    get() { grep -F "$1 " "$2" | head -1 | awk '{print $NF}'; }
    fs1=$(get 'fast_step_ms[hiddenkey-]' "$f"); fs2=$(get 'fast_step_ms[hiddenkey]' "$f")
    ts1=$(get 'torch_step_ms[hiddenkey-]' "$t"); ts2=$(get 'torch_step_ms[hiddenkey]' "$t")
    fc1=$(get 'fast_step_cpu_ms[hiddenkey-]' "$f"); fc2=$(get 'fast_step_cpu_ms[hiddenkey]' "$f")
    tc1=$(get 'torch_step_cpu_ms[hiddenkey-]' "$t"); tc2=$(get 'torch_step_cpu_ms[hiddenkey]' "$t")
    mg=$(get 'fast_matmul_gflops[hiddenkey-]' "$f"); mf=$(get 'fast_matmul_time_frac[hiddenkey-]' "$f")
    c1=$(get sgemm_ceiling_ffn_gflops "$f"); c2=$(get sgemm_ceiling_1024_gflops "$f")
    echo
    echo "== threads $th, $ctl (OpenBLAS core: $(get openblas_core "$f"))"
    awk -v fc1="$fc1" -v fc2="$fc2" -v tc1="$tc1" -v tc2="$tc2" -v fs1="$fs1" -v fs2="$fs2" -v ts1="$ts1" -v ts2="$ts2" -v mg="$mg" -v mf="$mf" -v c1="$c1" -v c2="$c2" 'BEGIN {
      printf "  step ms            fast  hiddenkey- %8.2f   hiddenkey %8.2f\n", fs1, fs2
      printf "  step ms            torch hiddenkey- %8.2f   hiddenkey %8.2f\n", ts1, ts2
      printf "  throughput ratio fast/torch:  hiddenkey- %.2fx   hiddenkey %.2fx   (target >= 1.5x)\n", ts1/fs1, ts2/fs2
      printf "  two-pass / one-pass step:     fast %.3f   torch %.3f   (target <= 1.35)\n", fs2/fs1, ts2/ts1
      printf "  CPU ms per step (all threads; robust to waiting for a core): fast %.2f / %.2f, torch %.2f / %.2f -> ratio %.2fx / %.2fx, two-pass %.3f / %.3f\n", fc1, fc2, tc1, tc2, tc1/fc1, tc2/fc2, fc2/fc1, tc2/tc1
      printf "  matmul phases (GFLOP per CPU-second): %.1f = %.0f%% of sgemm (2048x512x128) %.1f, %.0f%% of sgemm 1024^3 %.1f; %.0f%% of the step CPU time in sgemm  (target >= 50%%)\n", mg, 100*mg/c1, c1, 100*mg/c2, c2, 100*mf
    }'
  done
done
echo
echo "raw outputs: $out/"
