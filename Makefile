# Two commands set everything up on a fresh machine:
#   make demo   — the combined Gradio app on the shipped models in exported/
#   make test   — the whole test suite
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP_SERVE := $(VENV)/.serve-installed
STAMP_DEV   := $(VENV)/.dev-installed
# The browser tests drive Debian's chromium through Playwright (never `playwright install`).
CHROMIUM    ?= /usr/bin/chromium
STAMP_BROWSER := $(VENV)/.browser-installed

.PHONY: demo test venv-serve venv-dev browser clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP_SERVE): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[apps]"
	touch $@

$(STAMP_DEV): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[train,apps,test,serve]"
	touch $@ $(STAMP_SERVE)

# Install chromium when it is missing (as root, or through passwordless sudo). When it cannot be
# installed the stamp is not written (the next `make test` tries again) and the browser tests
# skip, saying why; the rest of the suite still runs.
$(STAMP_BROWSER): | $(PY)
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  { $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; } \
	    || echo "warning: could not install chromium; the browser tests will be skipped"; \
	fi
	@if [ -x $(CHROMIUM) ]; then touch $@; fi

browser: $(STAMP_BROWSER)

venv-serve: $(STAMP_SERVE)
venv-dev: $(STAMP_DEV)

demo: $(STAMP_SERVE)
	$(PY) -m apps

test: $(STAMP_DEV) browser
	$(PY) -m ruff check toolkit plugins apps tests benchmarks
	$(PY) -m pytest -n 2 --dist loadfile -q

clean:
	rm -rf $(VENV) runs .pytest_cache
