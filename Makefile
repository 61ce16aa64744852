# frostfork — the two commands a fresh machine needs:
#   make serve   install everything and serve the example on 127.0.0.1:8000 (4 workers)
#   make test    install everything and run every test: C unit tests, pytest,
#                then both again with the extension built with ASan+UBSan

PYTHON ?= python3
VENV := .venv
ASAN_VENV := .venv-asan
ASAN_FLAGS := -Csetup-args=-Db_sanitize=address,undefined -Csetup-args=-Db_lundef=false \
              -Csetup-args=-Dbuildtype=debugoptimized
SAN_LOGS := $(CURDIR)/build/sanitizer-logs
SAN_ENV := ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path=$(SAN_LOGS)/asan \
           UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(SAN_LOGS)/ubsan \
           FROSTFORK_SANITIZER_LOGS=$(SAN_LOGS) \
           LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)"
SOURCES := $(shell find src -name '*.c' -o -name '*.h' -o -name '*.py' -o -name '*.pyi') \
           meson.build meson.options pyproject.toml

.PHONY: serve test install test-c test-py test-asan system-deps clean

serve: $(VENV)/.installed
	$(VENV)/bin/frostfork serve examples.app:app --workers 4 --bind 127.0.0.1:8000

test: system-deps test-c test-py test-asan

# Debian packages the tests drive: chromium renders the status page; nginx checks
# and runs deploy/nginx/frostfork.conf.
system-deps:
	@{ command -v chromium && PATH=$$PATH:/usr/sbin command -v nginx; } >/dev/null || \
	    { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx; } || \
	    { echo "make test needs Debian's chromium and nginx (apt-get install chromium nginx)"; exit 1; }

install: $(VENV)/.installed

$(VENV)/.deps: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(VENV)/.installed: $(VENV)/.deps $(SOURCES)
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-build-isolation --no-deps \
	    -Cbuild-dir=build/release .
	touch $@

$(ASAN_VENV)/.deps: requirements-dev.txt
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
	    meson test -C build/ctest-asan --print-errorlogs --suite c

test-py: $(VENV)/.installed
	FROSTFORK_REQUIRE_BROWSER=1 $(VENV)/bin/python -m pytest -q tests

# Reports go to files (pytest would swallow a dying process's stderr); any
# report fails the run, and is printed.
test-asan: $(ASAN_VENV)/.installed
	rm -rf $(SAN_LOGS) && mkdir -p $(SAN_LOGS)
	$(SAN_ENV) FROSTFORK_SANITIZED=1 FROSTFORK_REQUIRE_BROWSER=1 \
	    $(ASAN_VENV)/bin/python -m pytest -q -p no:cacheprovider tests; rc=$$?; \
	if ls $(SAN_LOGS)/* >/dev/null 2>&1; then cat $(SAN_LOGS)/*; echo "sanitizer reports above"; rc=1; fi; \
	exit $$rc

clean:
	rm -rf build $(VENV) $(ASAN_VENV)
