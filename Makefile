# tapegrad: the two commands a user needs are `make demo` and `make test`; each installs what is
# missing (Debian 12 packages) and builds first.
BUILD      ?= build
SAN_BUILD  ?= build-sanitize
REF_BUILD  ?= build-reference
SHELL      := /bin/bash
MESON_ARGS ?=
PACKAGES   := g++ pkg-config cmake meson ninja-build libxtensor-dev libxsimd-dev \
              libopenblas-dev doctest-dev libfmt-dev libsentencepiece-dev libboost-dev nlohmann-json3-dev libtomlplusplus-dev

# Debian's OpenBLAS 0.3.21 predates Zen 4 and would pick its AVX2 kernels there; on a CPU with
# AVX-512 its SkylakeX kernels make the matrix products ~40% faster (docs/performance.md). It must
# be set before OpenBLAS loads, hence here; an OPENBLAS_CORETYPE already in the environment wins.
ifeq ($(origin OPENBLAS_CORETYPE), undefined)
  ifneq ($(shell grep -m1 -ow avx512bw /proc/cpuinfo 2>/dev/null),)
    export OPENBLAS_CORETYPE := SkylakeX
  endif
endif

.PHONY: deps check-build-dir build test test-reference demo real real-transformer paper paper-quick family family-real versus bench test-sanitize test-browser fuzz fuzz-deps fuzz-build clean install consumer interop

# Installs the packages that are missing: as root with apt-get, else with sudo, else says what to run.
# On a system without dpkg (not Debian), nothing is installed: the libraries are looked for with
# pkg-config and the tools on the PATH, and what is missing is named.
DPKG_QUERY ?= dpkg-query
PKGCONFIG_NEEDED := xtensor xsimd openblas fmt sentencepiece nlohmann_json tomlplusplus
TOOLS_NEEDED := g++ pkg-config meson ninja cmake
deps:
	@if ! command -v $(DPKG_QUERY) >/dev/null 2>&1; then \
	  missing=""; \
	  for t in $(TOOLS_NEEDED); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	  if command -v pkg-config >/dev/null 2>&1; then \
	    for l in $(PKGCONFIG_NEEDED); do pkg-config --exists $$l || missing="$$missing $$l"; done; fi; \
	  command -v pkg-config >/dev/null 2>&1 && pkg-config --exists doctest 2>/dev/null || \
	    [ -f /usr/include/doctest/doctest.h ] || [ -f /usr/local/include/doctest/doctest.h ] || missing="$$missing doctest"; \
	  [ -f /usr/include/boost/beast.hpp ] || [ -f /usr/local/include/boost/beast.hpp ] || missing="$$missing boost(beast)"; \
	  if [ -n "$$missing" ]; then echo "make deps: no dpkg here, and these are missing:$$missing (install them with your system's packages)" >&2; exit 1; fi; \
	  exit 0; \
	fi; \
	missing=""; for p in $(PACKAGES); do \
	  $(DPKG_QUERY) -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "make deps: installing$$missing"; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; \
	elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; \
	else echo "make deps: missing packages; as root run: apt-get install -y$$missing" >&2; exit 1; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	$$SUDO apt-get install -y -q $$missing >/dev/null || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q $$missing >/dev/null; } || \
	  { echo "make deps: apt-get failed; run: sudo apt-get install -y$$missing" >&2; exit 1; }

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_ARGS)

# A build folder copied from another checkout still points at that tree's sources (meson-info.json
# names them): building there would spin and fail. Say what to do instead.
check-build-dir:
	@for b in $(BUILD) $(SAN_BUILD) $(REF_BUILD); do info=$$b/meson-info/meson-info.json; \
	if [ -f "$$info" ]; then \
	  src=$$(grep -o '"source": *"[^"]*"' "$$info" | head -n 1 | sed 's/.*: *"//; s/"$$//'); \
	  if [ -n "$$src" ] && [ "$$(cd "$$src" 2>/dev/null && pwd -P)" != "$$(pwd -P)" ]; then \
	    echo "make: $$b/ was configured for another source tree ($$src), not this one ($$(pwd -P)); run 'make clean' (it removes $(BUILD)/ and $(SAN_BUILD)/) and try again" >&2; \
	    exit 1; \
	  fi; \
	fi; done

build: deps check-build-dir $(BUILD)/build.ninja
	ninja -C $(BUILD)

test: build
	$(BUILD)/tests/tests

# Installs the public headers (PREFIX/include/tapegrad/, included as <tapegrad/...>), the library
# (LIBRARY=static: libtapegrad.a, the default; shared: libtapegrad.so; both) and tapegrad.pc
# (pkg-config). Only the library is built for it, not the tests, examples or benchmarks. The library
# is compiled for this CPU (-march=native); configure with MESON_ARGS=-Dnative=false for a copy that
# runs on any x86-64 (its AVX-512 matrix product chosen at run time, where the CPU has it).
PREFIX ?= /usr/local
LIBRARY ?= static
install: deps check-build-dir $(BUILD)/build.ninja
	meson setup --reconfigure $(BUILD) --prefix=$(abspath $(PREFIX)) -Ddefault_library=$(LIBRARY) >/dev/null
	meson compile -C $(BUILD) $(if $(filter both,$(LIBRARY)),tapegrad:static_library tapegrad:shared_library,tapegrad:$(LIBRARY)_library)
	meson install -C $(BUILD) --no-rebuild --quiet

# The bridge to PyTorch (tools/pytorch/): a model trained by tapegrad loads into PyTorch, one trained
# further by PyTorch loads back; both sides must agree on loss, gradients (1e-5) and translations.
# The attention explorer (translator serve) in a real browser: headless Chromium driven by Selenium.
test-browser: build
	@$(MAKE) --no-print-directory deps PACKAGES="chromium chromium-driver python3-selenium"
	rm -rf $(BUILD)/browser
	/usr/bin/python3 tests/browser/explorer.py $(BUILD)/examples/translator/translator $(BUILD)/browser

interop: build
	@$(MAKE) --no-print-directory deps PACKAGES="python3-torch python3-sentencepiece"
	rm -rf $(BUILD)/interop
	/usr/bin/python3 tools/pytorch/check_interop.py $(BUILD)/examples/translator/translator $(BUILD)/interop

# A project outside this tree (examples/consumer/) built against the installed copy and as a meson
# subproject, then run: its own op and layer, trained and checkpointed through the public API.
consumer: build
	examples/consumer/check.sh

# The translator demo: about two minutes of training, then evaluation, translations and heatmaps.
demo: build
	examples/translator/demo.sh $(BUILD)

# The real-language demo: English -> Spanish (WordNet's examples, translated by Apertium), subword
# units, about ten minutes of training on 2 cores, BLEU on the test split, attention over words.
REAL_PACKAGES := wordnet-base apertium apertium-eng-spa python3
real: build
	@$(MAKE) --no-print-directory deps PACKAGES="$(REAL_PACKAGES)"
	examples/translator/real/real.sh $(BUILD)

# The same data and time, the Transformer (RNNsearch against it: docs/results.md).
real-transformer: build
	@$(MAKE) --no-print-directory deps PACKAGES="$(REAL_PACKAGES)"
	examples/translator/real/real.sh $(BUILD) 600 transformer

# The attention family side by side on the demo's task: each score function (and the LSTM) trained 2
# minutes on 2 threads, scored and drawn on the same sentences (about 15 minutes; docs/results.md).
family: build
	examples/translator/family.sh $(BUILD)

# The same family on real text, with make real's data and settings: 10 minutes each on 2 threads,
# BLEU and chrF2 greedy and with beam 5 (about an hour; docs/results.md).
family-real: build
	@$(MAKE) --no-print-directory deps PACKAGES="$(REAL_PACKAGES)"
	examples/translator/real/family.sh $(BUILD)

# RNNsearch against the Transformer on the demo's task: each trained 2, 5 and 10 minutes on 2 threads,
# scored (exact match, BLEU, AER) and drawn on the same sentences (about 40 minutes; docs/results.md).
versus: build
	examples/translator/versus.sh $(BUILD)

# The paper's Figures 2 and 3 at toy scale: 4 models of 8 minutes each (about 35 minutes on 2 cores;
# paper-quick: about 6).
paper: build
	$(BUILD)/examples/paper/paper --out $(BUILD)/paper

paper-quick: build
	$(BUILD)/examples/paper/paper --quick --out $(BUILD)/paper-quick

# The engine's costs, then a training step and decoding of the demo-sized translator (JSON lines).
# Then memory as users meet it: batches of varying lengths, and the peak resident memory of
# `translator train` on the demo's data beside PyTorch's on the same file (skipped without PyTorch).
bench: build
	$(BUILD)/bench/ops
	$(BUILD)/bench/train_step
	$(BUILD)/bench/train_step --decode
	$(BUILD)/bench/train_step --vary-lengths --steps 300
	bench/memory.sh $(BUILD) 45

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (and LeakSanitizer), with
# xtensor's own bounds checks on. -O1: xsimd's AVX-512 code does not compile at -O0 with g++ 12.
# The reference engine alone (-Dkernels=false: no kernels/, no OpenBLAS): every op on the plain loops
# beside it. CI runs the whole suite on it, so the code a reader learns from cannot rot.
$(REF_BUILD)/build.ninja:
	meson setup $(REF_BUILD) -Dkernels=false $(MESON_ARGS)

test-reference: deps check-build-dir $(REF_BUILD)/build.ninja
	ninja -C $(REF_BUILD)
	$(REF_BUILD)/tests/tests

# Portable (-Dnative=false): a portable build compiles the SIMD loops once per instruction set
# (kernels/simd.hpp), and the suite checks every copy this CPU runs, here under the sanitizers too.
$(SAN_BUILD)/build.ninja:
	meson setup $(SAN_BUILD) -Dbuildtype=debug -Doptimization=1 -Db_sanitize=address,undefined -Dxtensor_asserts=true -Dnative=false $(MESON_ARGS)

# Under the sanitizers the suite runs ten times slower, and CI has an hour, so this run leaves out the
# few long cases that check something other than memory safety: the docs tests (that the docs are
# true: the optimised and reference runs check it), and the cases that measure a whole run's memory
# over tens of thousands of lines or kill a save at each of its steps (their code paths, the streaming
# eval and the atomic save, run under the sanitizers in the shorter cases beside them).
SAN_SKIP ?= docs: *,21: eval streams its file*,evaluating a file of every length*,SIGKILL at any step of a save*
test-sanitize: deps check-build-dir $(SAN_BUILD)/build.ninja
	ninja -C $(SAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(SAN_BUILD)/tests/tests --test-case-exclude="$(SAN_SKIP)"

# Fuzzing (libFuzzer, clang from Debian) of the three readers of untrusted files (parallel text and
# alignments, vocabularies, .npy) and of the command-line parser. Each runs FUZZ_SECONDS on its seed corpus (fuzz/corpus/NAME) plus
# what it found before (build-fuzz/corpus-NAME); a crash is saved as build-fuzz/crash-NAME-*: copy
# it into fuzz/regressions/NAME/ and tests/test_fuzz_inputs.cpp replays it from then on.
FUZZ_SECONDS ?= 60
FUZZ_DIR     ?= build-fuzz
FUZZ_FLAGS   := -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I.

fuzz-deps:
	@$(MAKE) --no-print-directory deps PACKAGES="clang libclang-rt-14-dev libfmt-dev nlohmann-json3-dev libtomlplusplus-dev"

fuzz-build: fuzz-deps
	mkdir -p $(FUZZ_DIR)
	clang++ $(FUZZ_FLAGS) fuzz/fuzz_tsv.cpp text/corpus.cpp io/files.cpp -lfmt -o $(FUZZ_DIR)/fuzz_tsv
	clang++ $(FUZZ_FLAGS) fuzz/fuzz_vocab.cpp text/vocab.cpp text/corpus.cpp io/files.cpp -lfmt -o $(FUZZ_DIR)/fuzz_vocab
	clang++ $(FUZZ_FLAGS) fuzz/fuzz_npy.cpp io/npy.cpp io/files.cpp autograd/tensor.cpp autograd/arena.cpp autograd/shape.cpp -lfmt -o $(FUZZ_DIR)/fuzz_npy
	clang++ $(FUZZ_FLAGS) -Iexamples/translator fuzz/fuzz_args.cpp examples/translator/app/args.cpp io/files.cpp kernels/threads.cpp -lfmt -lopenblas -o $(FUZZ_DIR)/fuzz_args
	clang++ $(FUZZ_FLAGS) fuzz/fuzz_api_request.cpp examples/translator/app/api_request.cpp -lfmt -o $(FUZZ_DIR)/fuzz_api

fuzz: fuzz-build
	@for t in tsv vocab npy args api; do \
	  mkdir -p $(FUZZ_DIR)/corpus-$$t; \
	  echo "== fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 -malloc_limit_mb=256 -max_len=8192 \
	    -timeout=5 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/crash-$$t- \
	    $(FUZZ_DIR)/corpus-$$t fuzz/corpus/$$t fuzz/regressions/$$t 2>&1 | grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|ERROR|SUMMARY" ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(REF_BUILD)
