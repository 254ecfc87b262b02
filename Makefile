# The template's two commands, `make bake` and `make test`. Each bootstraps .venv from the pinned requirements-dev.txt
# on first use, with uv: the one on PATH, else the version pinned in requirements-dev.txt, installed from PyPI.
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
OUT := out
PYTHON_MIN := 3.11
# uv uses the Pythons already on this machine; it never downloads one.
export UV_PYTHON_DOWNLOADS := never

# The first Python $(PYTHON_MIN)+ among python3, python3.N on PATH and pyenv's versions (override: make PYTHON=...).
comma := ,
PYTHON ?= $(shell for candidate in python3 $(foreach minor,14 13 12 11,python3.$(minor)) \
	$(sort $(wildcard $(HOME)/.pyenv/versions/3.*/bin/python3)); do \
	"$$candidate" -c 'import sys; sys.exit(sys.version_info < ($(subst .,$(comma),$(PYTHON_MIN)),))' 2>/dev/null \
	&& { command -v "$$candidate"; break; }; done)
UV ?= $(or $(shell command -v uv 2>/dev/null),$(BIN)/uv)
UV_PINNED = $(shell sed -n 's/^uv==//p' requirements-dev.txt)

.PHONY: bake test bench lint lock

$(INSTALLED): requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "The template's tools need Python $(PYTHON_MIN) or newer, and none was found: install it, or name it with make PYTHON=/path/to/python3." >&2; exit 1; }
	@if [ ! -x "$(UV)" ] && ! command -v "$(UV)" >/dev/null 2>&1; then \
		echo "Installing uv $(UV_PINNED) into $(VENV) (uv is not on PATH)"; \
		"$(PYTHON)" -m venv $(VENV) && $(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_PINNED)"; \
	else \
		$(UV) venv --quiet --allow-existing --python "$(PYTHON)" $(VENV); \
	fi
	$(UV) pip install --quiet --python $(BIN)/python -r requirements-dev.txt
	@touch $@

# Bake a project into ./out (replacing an earlier bake of the same name), install it from its lock with this .venv's
# uv (so the project need not bootstrap its own), migrate it, and print the next steps. The default answers, or your
# own: make bake ARGS="project_name='Billing' django_version=5.2". It bakes into out/.baking first, because the
# folder's name (the slug) is known only once cookiecutter has read the answers.
bake: $(INSTALLED)
	@rm -rf $(OUT)/.baking
	TEMPLATE_MAKE_BAKE=1 $(BIN)/cookiecutter . --no-input --output-dir $(OUT)/.baking $(ARGS)
	@set -e; project=$$(ls $(OUT)/.baking); rm -rf "$(OUT)/$$project"; mv "$(OUT)/.baking/$$project" $(OUT)/; \
	rmdir $(OUT)/.baking; \
	$(MAKE) -C "$(OUT)/$$project" migrate UV="$(if $(findstring /,$(UV)),$(abspath $(UV)),$(UV))"; \
	echo; \
	echo "Baked $(OUT)/$$project and installed it from its uv.lock. Next steps:"; \
	echo; \
	echo "    cd $(OUT)/$$project"; \
	echo "    make run                                    # serves on http://127.0.0.1:8000/"; \
	echo "    .venv/bin/python manage.py createsuperuser  # an admin account for http://127.0.0.1:8000/admin/"

# The template's whole test suite: bakes projects and runs their checks and own tests (SQLite and PostgreSQL).
test: $(INSTALLED)
	$(BIN)/python -m pytest

# Django's own tests with their models switched to the base models, for each Django version on SQLite and PostgreSQL,
# against compat/expected_differences.toml (docs/testing.md: Compatibility with Django's own tests). `make test` runs it too.
# Narrow it with COMPAT_ARGS, e.g. make test-compat COMPAT_ARGS="--django 5.2 --database sqlite --label basic".
.PHONY: test-compat
test-compat: $(INSTALLED)
	$(BIN)/python -m compat $(COMPAT_ARGS)

# The benchmark suite (bench/README.md): bakes the template, installs it with bench/requirements.txt, prints eight tables.
bench: $(INSTALLED)
	$(BIN)/python bench/bake_and_run.py

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Re-resolve the baked project's uv.lock (both Django versions) after changing its pyproject.toml's dependencies.
lock: $(INSTALLED)
	$(BIN)/python tools/relock.py $(if $(UPGRADE),--upgrade)
