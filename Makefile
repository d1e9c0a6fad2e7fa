# Quick start on a fresh Debian 12 machine, as root:  make run  |  make test
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEBS := libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0 \
        libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
        libxcb-randr0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 xvfb xauth blender ffmpeg \
        chromium systemd
DEB_STAMP := $(VENV)/.debs

DIST_STAMP := $(VENV)/.dist-installed
# PyInstaller reads and patches binaries with binutils (objdump, objcopy, strip).
DIST_DEBS := binutils

# Python packages come from uv.lock (hashes checked), never from a fresh resolution:
# `make lock` refreshes it (docs/decisions.md). uv itself is bootstrapped from PyPI.
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv
# --inexact keeps pip and uv in the venv; the interpreter is the venv's, never a download.
SYNC := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never $(UV) sync --frozen --inexact

.PHONY: run test lint deps clean dist lock

$(DEB_STAMP):
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  missing=$$(for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	else echo "not root or no apt-get: install Qt's runtime libraries, blender and ffmpeg yourself"; fi
	@mkdir -p $(VENV) && touch $@

$(UV): | $(DEB_STAMP)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q "uv==$(UV_VERSION)"

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(SYNC) --extra test
	@touch $@

# Re-resolve every dependency to the newest that pyproject.toml's ranges allow.
lock: | $(UV)
	UV_PYTHON_DOWNLOADS=never $(UV) lock --upgrade

deps: $(DEB_STAMP) $(STAMP)

# The manager with its window. Without a display it starts one under Xvfb.
run: deps
	@if [ -n "$$DISPLAY" ] || [ -n "$$WAYLAND_DISPLAY" ] || [ "$$QT_QPA_PLATFORM" = offscreen ]; then \
	  $(PY) main.py manager; \
	else \
	  echo "no display: starting the window under Xvfb"; xvfb-run -a $(PY) main.py manager; \
	fi

# The window's tests run a process per file (docs/decisions.md: Qt crashed in one
# process that had run hundreds of other tests first); the rest in one process.
test: deps
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -ra --ignore=tests/gui
	@status=0; for f in tests/gui/test_*.py; do \
	  QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -ra -p no:cacheprovider $$f || status=1; \
	done; exit $$status

# Style, the import contracts ([tool.importlinter]), then the types ([tool.mypy]).
lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(VENV)/bin/actionlint
	# uv.lock must match pyproject.toml's ranges (installs use it as it is: --frozen).
	UV_PYTHON_DOWNLOADS=never $(UV) lock --check

$(DIST_STAMP): pyproject.toml uv.lock | $(STAMP)
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  missing=$$(for p in $(DIST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	fi
	$(SYNC) --extra test --extra dist
	@touch $@

# One executable, dist/flamenco: window, headless manager, worker and selftest in one file.
dist: deps $(DIST_STAMP)
	$(VENV)/bin/pyinstaller --noconfirm --clean --log-level WARN flamenco.spec
	@ls -l dist/flamenco

clean:
	rm -rf $(VENV) build dist
