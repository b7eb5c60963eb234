# Browser tests' tools: Debian's Chromium at /usr/bin/chromium and python playwright in .venv.
#
# Included by the Makefile (`include mk/browser.mk`, after VENV/PY/PIP_FILTER are defined); targets
# that run the browser tests depend on $(BROWSER_STAMP). Alone: `make -f mk/browser.mk browser`.
# Chromium comes from apt (as root, `apt-get update` first); `playwright install` is never run, as it
# downloads a browser build of its own.

VENV ?= .venv
PY ?= $(VENV)/bin/python
PIP_FILTER ?= grep -v 'is ignored: it is neither a file nor a directory' || true
CHROMIUM ?= /usr/bin/chromium
BROWSER_STAMP := $(VENV)/.browser-stamp

.PHONY: browser
browser: $(BROWSER_STAMP) ## Debian Chromium and python playwright for the browser tests

$(BROWSER_STAMP): requirements-browser.txt mk/browser.mk
	@test -x $(PY) || { echo "no $(PY): run 'make setup' first" >&2; exit 1; }
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "$(CHROMIUM) is missing: run as root, or 'sudo apt-get install chromium'" >&2; exit 1; \
		fi; \
		echo "installing Chromium from Debian (apt-get)"; \
		apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null; \
	fi
	@$(PY) -m pip install -q -r requirements-browser.txt 2>&1 | $(PIP_FILTER)
	@touch $@
