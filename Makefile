# The two entry points of the README. Each installs what it needs first.

CARGO ?= cargo

.PHONY: run test build

# Build and start ocbgpd with its embedded default configuration (loopback only).
run:
	scripts/install-deps build
	$(CARGO) run --release --locked -p ocbgpd --

# The whole test suite: unit tests, schema checks, end-to-end tests.
test:
	scripts/install-deps test
	scripts/test

build:
	scripts/install-deps build
	$(CARGO) build --release --locked --workspace
