# frostfork — the two commands a fresh machine needs:
#   make serve   install everything and serve the example on 127.0.0.1:8000 (4 workers)
#   make test    install everything and run every test: C unit tests, pytest,
#                then both again with the extension built with ASan+UBSan, pytest
#                on each other CPython found, the allocation-failure sweep, fuzzing

PYTHON ?= python3
VENV := .venv
ASAN_VENV := .venv-asan
ASAN_FLAGS := -Csetup-args=-Db_sanitize=address,undefined -Csetup-args=-Db_lundef=false \
              -Csetup-args=-Dbuildtype=debugoptimized
SAN_LOGS := $(CURDIR)/build/sanitizer-logs
SAN_ENV = ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path=$(SAN_LOGS)/asan \
           UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(SAN_LOGS)/ubsan \
           FROSTFORK_SANITIZER_LOGS=$(SAN_LOGS) \
           LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)"
SOURCES := $(shell find src -name '*.c' -o -name '*.h' -o -name '*.py' -o -name '*.pyi') \
           meson.build meson.options pyproject.toml

.PHONY: serve test install test-c test-py test-asan test-versions test-alloc-faults system-deps build-deps clean

serve: $(VENV)/.installed
	$(VENV)/bin/frostfork serve examples.app:app --workers 4 --bind 127.0.0.1:8000

test: system-deps test-c test-py test-asan test-versions test-alloc-faults fuzz-smoke

# Debian packages the tests drive: chromium renders the status page; nginx checks
# and runs deploy/nginx/frostfork.conf; clang + libclang-rt-dev (libFuzzer, ASan
# runtime) build fuzz/; wrk loads the server in tests/hardening.
system-deps:
	@{ command -v chromium && PATH=$$PATH:/usr/sbin command -v nginx && command -v wrk && \
	    ls "$$(clang -print-runtime-dir)"/libclang_rt.fuzzer-*.a; } >/dev/null 2>&1 || \
	    { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx clang libclang-rt-dev wrk; } || \
	    { echo "make test needs Debian's chromium, nginx, clang, libclang-rt-dev and wrk" \
	      "(apt-get install chromium nginx clang libclang-rt-dev wrk)"; exit 1; }

install: $(VENV)/.installed

# What the build itself needs beyond gcc and Python: SQLite's headers (the C sinks).
build-deps:
	@pkg-config --exists sqlite3 2>/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsqlite3-dev pkg-config; } || \
	    { echo "building frostfork needs SQLite's headers (apt-get install libsqlite3-dev)"; exit 1; }

$(VENV)/.deps: requirements-dev.txt | build-deps
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(VENV)/.installed: $(VENV)/.deps $(SOURCES)
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-build-isolation --no-deps \
	    -Cbuild-dir=build/release .
	touch $@

$(ASAN_VENV)/.deps: requirements-dev.txt | build-deps
	$(PYTHON) -m venv $(ASAN_VENV)
	$(ASAN_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(ASAN_VENV)/.installed: $(ASAN_VENV)/.deps $(SOURCES)
	PATH=$(CURDIR)/$(ASAN_VENV)/bin:$$PATH $(ASAN_VENV)/bin/pip install -q \
	    --disable-pip-version-check --no-build-isolation --no-deps \
	    -Cbuild-dir=build/asan $(ASAN_FLAGS) .
	touch $@

# Pure-C unit tests (no Python): plain, then ASan+UBSan, then valgrind.
test-c: $(VENV)/.deps
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH; \
	[ -d build/ctest ] || meson setup build/ctest -Dtests=true -Dbuildtype=debugoptimized; \
	meson test -C build/ctest --print-errorlogs --suite c && \
	{ [ -d build/ctest-asan ] || meson setup build/ctest-asan -Dtests=true \
	    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized; } && \
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    meson test -C build/ctest-asan --print-errorlogs --suite c && \
	{ ! command -v valgrind >/dev/null || meson test -C build/ctest --print-errorlogs --suite c \
	    --wrap='valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite'; }

test-py: $(VENV)/.installed
	FROSTFORK_REQUIRE_BROWSER=1 $(VENV)/bin/python -m pytest -q tests

# The other supported CPython versions (README "Python versions"), each found on PATH
# or under pyenv by tools/find-python: a release build in .venv-<version> and the
# pytest suite, except tests/hardening (load and fault timing of the C server, which
# does not change with the interpreter; it runs in test-py and test-asan).
OTHER_PYTHONS := 3.12 3.13 3.14
test-versions: $(VENV)/.deps
	@rc=0; for v in $(OTHER_PYTHONS); do \
	    py=$$(tools/find-python $$v); \
	    if [ -z "$$py" ]; then echo "== CPython $$v: not found on PATH or under pyenv, skipped"; continue; fi; \
	    echo "== CPython $$v: $$py"; \
	    { [ .venv-$$v/.deps -nt requirements-dev.txt ] || { rm -rf .venv-$$v && $$py -m venv .venv-$$v && \
	        .venv-$$v/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt && \
	        touch .venv-$$v/.deps; }; } && \
	    PATH=$(CURDIR)/.venv-$$v/bin:$$PATH .venv-$$v/bin/pip install -q --disable-pip-version-check \
	        --no-build-isolation --no-deps -Cbuild-dir=build/py$$v . && \
	    FROSTFORK_REQUIRE_BROWSER=1 .venv-$$v/bin/python -m pytest -q -p no:cacheprovider tests \
	        --ignore=tests/hardening || { rc=1; echo "== CPython $$v: FAILED"; }; \
	done; exit $$rc

# Reports go to files (pytest would swallow a dying process's stderr); any
# report fails the run, and is printed.
test-asan: $(ASAN_VENV)/.installed
	rm -rf $(SAN_LOGS) && mkdir -p $(SAN_LOGS)
	$(SAN_ENV) FROSTFORK_SANITIZED=1 FROSTFORK_REQUIRE_BROWSER=1 \
	    $(ASAN_VENV)/bin/python -m pytest -q -p no:cacheprovider tests; rc=$$?; \
	if ls $(SAN_LOGS)/* >/dev/null 2>&1; then cat $(SAN_LOGS)/*; echo "sanitizer reports above"; rc=1; fi; \
	exit $$rc

# ---- Allocation failures: the request paths with their Nth allocation failed ----
# An ASan build with -Dfault_inject=true in its own venv and build dir. The sweep
# (tests/hardening/test_alloc_faults.py) fails, one at a time, every allocation
# that one request of each kind makes: about 10 s. PYTHONMALLOC=malloc lets ASan
# see Python objects' memory too (pymalloc would hide a use after free).
FAULT_VENV := .venv-fault

$(FAULT_VENV)/.deps: requirements-dev.txt | build-deps
	$(PYTHON) -m venv $(FAULT_VENV)
	$(FAULT_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(FAULT_VENV)/.installed: $(FAULT_VENV)/.deps $(SOURCES)
	PATH=$(CURDIR)/$(FAULT_VENV)/bin:$$PATH $(FAULT_VENV)/bin/pip install -q \
	    --disable-pip-version-check --no-build-isolation --no-deps \
	    -Cbuild-dir=build/fault-asan $(ASAN_FLAGS) -Csetup-args=-Dfault_inject=true .
	touch $@

test-alloc-faults: SAN_LOGS := $(CURDIR)/build/sanitizer-logs-fault
test-alloc-faults: $(FAULT_VENV)/.installed
	rm -rf $(SAN_LOGS) && mkdir -p $(SAN_LOGS)
	$(SAN_ENV) PYTHONMALLOC=malloc FROSTFORK_SANITIZED=1 FROSTFORK_REQUIRE_FAULT_INJECT=1 \
	    $(FAULT_VENV)/bin/python -m pytest -q -p no:cacheprovider \
	    tests/hardening/test_alloc_faults.py; rc=$$?; \
	if ls $(SAN_LOGS)/* >/dev/null 2>&1; then cat $(SAN_LOGS)/*; echo "sanitizer reports above"; rc=1; fi; \
	exit $$rc

# ---- Fuzzing (fuzz/README.md): libFuzzer targets built with clang in build/fuzz ----
# make fuzz        every target for FUZZ_SECONDS (default 60) each; inputs that add
#                  coverage go to build/fuzz-corpus/<target>, crashes to build/fuzz-artifacts
# make fuzz-smoke  every target for FUZZ_SMOKE_SECONDS (20) from the seeds; fails on any crash
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_TARGETS := fuzz_parse fuzz_chunked fuzz_json_scan fuzz_json fuzz_mw fuzz_multipart fuzz_form fuzz_ws
FUZZ_BUILD := build/fuzz
FUZZ_ARTIFACTS := $(CURDIR)/build/fuzz-artifacts

.PHONY: fuzz fuzz-smoke fuzz-build

fuzz-build: $(VENV)/.deps
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH; \
	{ [ -d $(FUZZ_BUILD) ] || CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true \
	    -Dbuildtype=debugoptimized; } && ninja -C $(FUZZ_BUILD) $(addprefix fuzz/,$(FUZZ_TARGETS))

# $(call fuzz_run,SECONDS,CORPUS_ROOT): each target in turn, all of them even
# after a crash; the exit status says whether any crashed.
fuzz_run = mkdir -p $(FUZZ_ARTIFACTS) && rc=0; \
	site=$$($(VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))'); \
	for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(2)/$$t; echo "== $$t: $(1) s"; \
	    rm -f build/fuzz-$$t.log; \
	    PYTHONPATH=$$site $(VENV)/bin/python fuzz/cpu_time.py build/fuzz-$$t.log -- \
	        $(FUZZ_BUILD)/fuzz/$$t -max_total_time=$(1) -timeout=10 \
	        -rss_limit_mb=4096 -print_final_stats=1 -dict=fuzz/$$t.dict \
	        -artifact_prefix=$(FUZZ_ARTIFACTS)/$$t- $(2)/$$t fuzz/corpus/$$t \
	        || { rc=1; echo "$$t CRASHED:"; tail -60 build/fuzz-$$t.log; }; \
	    grep -E '^(stat::number_of_executed_units|Done|cpu_minutes)' build/fuzz-$$t.log; \
	done; exit $$rc

fuzz: fuzz-build
	@$(call fuzz_run,$(FUZZ_SECONDS),build/fuzz-corpus)

fuzz-smoke: fuzz-build
	@rm -rf build/fuzz-smoke-corpus && $(call fuzz_run,$(FUZZ_SMOKE_SECONDS),build/fuzz-smoke-corpus)

clean:
	rm -rf build $(VENV) $(ASAN_VENV) $(FAULT_VENV) $(addprefix .venv-,$(OTHER_PYTHONS))
