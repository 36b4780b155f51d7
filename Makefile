# Two commands matter: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
# make run KAFKA=apache: Apache Kafka (one node, data kept in var/kafka) instead of the embedded Tansu broker
KAFKA ?= tansu

.PHONY: chaos install run demo demo-journey messages lint test test-unit test-integration test-e2e test-apache test-tansu test-tansu-smoke asyncapi check-asyncapi bench bench-matcher bench-registry bench-notifier bench-pipeline clean

$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) (first time only) ..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[test]'
	@$(BIN)/python -m services.matcher.compile_kernels
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@$(BIN)/pairing run --port $(PORT) --kafka $(KAFKA)

demo: $(STAMP)
	@$(BIN)/pairing demo --port $(PORT)

# A programme through simulated months on the real services (their clocks moved on by this demo only):
# publish, a reminder, a pair ended and paired again first, the round closed with feedback. Messages: var/journey/messages.
demo-journey: $(STAMP)
	@$(BIN)/pairing demo-journey --port $(PORT)

# Every kind of message in every format, for awkward made-up people: open var/messages/index.html.
messages: $(STAMP)
	@$(BIN)/pairing messages var/messages

# The checks that keep the code's shape (issue 15): ruff's lint rules and formatting, types (strict for the
# domain cores and the event contract), and the import contracts in pyproject.toml (no circles, no I/O in domain/).
lint: $(STAMP)
	@$(BIN)/ruff check services schemas tests
	@$(BIN)/ruff format --check services schemas tests
	@$(BIN)/mypy
	@$(BIN)/lint-imports

# Starts what the tests need by itself: PostgreSQL when none answers (tests/postgres_server.py),
# Debian's Chromium, installed first when it is missing (tests/browser/chromium.py), and Apache
# Kafka from Maven Central when Java can run it (else the embedded broker; tests/conftest.py).
# Beside them, a smoke run on the embedded Tansu broker, which `make run` uses (its output goes to
# var/test-tansu-smoke.log and its summary is shown at the end). The tests run in three processes
# (pytest-xdist), each with its own PostgreSQL server and broker; the tests that share a stack of
# services stay in one (tests/workers.py). Much of a test's time is spent waiting for a broker or a
# service, so three processes keep two cores busier than two do. TEST_PROCESSES=1 runs them in one.
TEST_PROCESSES ?= 3
SMOKE_LOG := var/test-tansu-smoke.log
test: $(STAMP)
	@$(BIN)/python -m tests.browser.chromium
	@mkdir -p var; \
	$(MAKE) --no-print-directory test-tansu-smoke > $(SMOKE_LOG) 2>&1 & smoke=$$!; \
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadscope --no-loadscope-reorder; tests=$$?; \
	wait $$smoke; smoke_result=$$?; \
	if [ $$smoke_result -eq 0 ]; then echo "Smoke run on the embedded Tansu broker: $$(tail -n 1 $(SMOKE_LOG))"; \
	else echo "The smoke run on the embedded Tansu broker failed:"; cat $(SMOKE_LOG); fi; \
	[ $$tests -eq 0 ] && [ $$smoke_result -eq 0 ]

test-unit: $(STAMP)
	@$(BIN)/python -m pytest -m unit

test-integration: $(STAMP)
	@$(BIN)/python -m pytest -m integration

test-e2e: $(STAMP)
	@$(BIN)/python -m pytest -m e2e

# The tests that need a broker, on one of the two: Apache Kafka (fetched once from Maven Central;
# needs Java 17 and Maven) or the embedded Tansu broker.
test-apache: $(STAMP)
	@PAIRING_TEST_BROKER=apache $(BIN)/python -m pytest -m "integration or e2e or chaos"

test-tansu: $(STAMP)
	@PAIRING_TEST_BROKER=tansu $(BIN)/python -m pytest -m "integration or e2e or chaos"

# The product's main journeys and its contract on the embedded broker.
test-tansu-smoke: $(STAMP)
	@PAIRING_TEST_BROKER=tansu $(BIN)/python -m pytest -p no:cacheprovider tests/e2e/test_walking_skeleton.py tests/e2e/test_contract_records.py

asyncapi: $(STAMP)
	@$(BIN)/pairing asyncapi

check-asyncapi: $(STAMP)
	@$(BIN)/pairing asyncapi --check

# The chaos tests at full size, 1,000 people each: at least 20 kills of the services, and the busiest
# node of a three-node Apache Kafka cluster killed and restarted (tests/chaos/test_broker_failover.py).
chaos: $(STAMP)
	@CHAOS_PEOPLE=1000 CHAOS_KILLS=24 $(BIN)/python -m pytest -m chaos -s -p no:cacheprovider

# Benchmarks rewrite their own section of docs/benchmarks.md; they are measurements, not tests.
bench: bench-matcher bench-registry bench-notifier bench-pipeline

bench-matcher: $(STAMP)
	@$(BIN)/python -m tests.bench.bench_matcher

bench-registry: $(STAMP)
	@$(BIN)/python -m tests.bench.bench_registry

bench-notifier: $(STAMP)
	@$(BIN)/python -m tests.bench.bench_notifier

bench-pipeline: $(STAMP)
	@$(BIN)/python -m tests.bench.bench_pipeline

clean:
	rm -rf $(VENV) var .pytest_cache
