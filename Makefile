# timbre: the README's two commands are `make demo` and `make test`.
SWIFT ?= swift

.PHONY: bootstrap build release test demo fixtures drums-data clean

# Where `make drums-data` puts the drum corpus (outside git: data/ is ignored).
DRUMS ?= data/drums

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
# The release binaries too: the real-corpus test runs `timbre corpus` twice with them.
test: bootstrap
	$(SWIFT) build --build-tests
	$(SWIFT) build -c release --product timbre-core
	$(SWIFT) build -c release --product timbre
	$(SWIFT) test --skip-build --no-parallel

demo: release
	scripts/demo

# The drum corpus: Debian's hydrogen kits and the General MIDI kits of fluid-soundfont-gm,
# rendered and prepared with kits and groups (docs/PREP.md). A rerun reuses what is done.
drums-data: release
	.build/release/timbre corpus --out $(DRUMS)

# Rebuild the committed fixture models (needs /usr/bin/python3 with python3-torch).
fixtures: bootstrap
	/usr/bin/python3 Tests/Fixtures/make_models.py Tests/Fixtures/models

clean:
	rm -rf .build demo-out
