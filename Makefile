.PHONY: run run-dev test test-fast setup lock upgrade-check bench bench-train lint docker-smoke

run:            ## set up and run the whole studio with demo data (DEBUG off)
	./scripts/run.sh

run-dev:        ## the same with DEBUG on (Django's debug pages)
	./scripts/run.sh --dev

test:           ## set up and run every test (CI runs this, then docker-smoke)
	./scripts/test.sh

docker-smoke:   ## build the images and run docker/compose.yml end to end (needs Docker)
	./scripts/docker_smoke.sh

test-fast:      ## the suite without the slow (real model), worker and browser tests
	./scripts/test.sh -m "not slow and not browser and not worker"

setup:          ## create .venv from the lock (torch pinned first)
	./scripts/setup.sh

lock:           ## refresh requirements.lock and requirements-dev.lock from pyproject.toml (UPGRADE=1: newest allowed)
	./scripts/lock.sh

upgrade-check:  ## try the newest allowed versions in a scratch venv (WIDEN=1: past the ML bounds)
	./scripts/upgrade_check.sh

bench:          ## generation: naive pipeline loop vs batched engine
	.venv/bin/python -m generation.bench

bench-train:    ## training: our trainer vs plain Trainer + peft
	.venv/bin/python -m generation.bench train

lint:
	.venv/bin/ruff check . && .venv/bin/mypy studio generation && .venv/bin/lint-imports
