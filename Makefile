# The template's two commands. Each bootstraps .venv from the pinned requirements-dev.txt on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
OUT := out

.PHONY: bake test bench lint

$(INSTALLED): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Bake a project with the default answers into ./out (replacing an earlier demo bake), install it, migrate it.
bake: $(INSTALLED)
	rm -rf $(OUT)/my_service
	$(BIN)/cookiecutter . --no-input --output-dir $(OUT)
	$(MAKE) -C $(OUT)/my_service migrate
	@echo
	@echo "Baked $(OUT)/my_service. Start it with:  make -C $(OUT)/my_service run   (then open http://127.0.0.1:8000/admin/)"

# The template's whole test suite: bakes projects and runs their checks and own tests (SQLite and PostgreSQL).
test: $(INSTALLED)
	$(BIN)/python -m pytest

# The benchmark suite (bench/README.md): bakes the template, installs it with bench/requirements.txt, prints five tables.
bench: $(INSTALLED)
	$(BIN)/python bench/bake_and_run.py

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
