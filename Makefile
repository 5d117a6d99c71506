# timbre: the README's two commands are `make demo` and `make test`.
SWIFT ?= swift

.PHONY: bootstrap build release test demo fixtures clean

bootstrap:
	@scripts/bootstrap

build: bootstrap
	$(SWIFT) build

# Both executables: `timbre` (the light front end: send, status) and `timbre-core`
# (every other command, with libtorch), which `timbre` runs from beside itself.
release: bootstrap
	$(SWIFT) build -c release --product timbre-core
	$(SWIFT) build -c release --product timbre

# Suites share libtorch's global generator and thread pool, and the machine's
# cores: they run one at a time.
test: bootstrap
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel

demo: release
	scripts/demo

# Rebuild the committed fixture models (needs /usr/bin/python3 with python3-torch).
fixtures: bootstrap
	/usr/bin/python3 Tests/Fixtures/make_models.py Tests/Fixtures/models

clean:
	rm -rf .build demo-out
