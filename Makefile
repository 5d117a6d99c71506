# timbre: the README's two commands are `make demo` and `make test`.
SWIFT ?= swift

.PHONY: bootstrap build release test demo fixtures drums-data train-default eval-default install clean

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

# The shipped default drum model (Resources/default, its card MODEL.md; docs/DRUMVAE.md,
# "The default model"). train-default trains DEFAULT_RECIPE on every kit of the corpus
# (--all-kits), resuming when the run exists, and packs it (float16) into Resources/default;
# eval-default trains the same recipe with the default kit split and scores it on the held-out
# test kits: the numbers the model card reports.
DEFAULT_RUN ?= out/default-run
DEFAULT_EVAL_RUN ?= out/default-eval
DEFAULT_RECIPE ?= --steps 30000 --conditional --threads 1 --log-weight 0.1 --kl-warmup 300 --magnitude-warmup 2800

train-default: release
	@test -f $(DRUMS)/manifest.jsonl || $(MAKE) drums-data
	.build/release/timbre train $(DRUMS) --out $(DEFAULT_RUN) --all-kits $(DEFAULT_RECIPE) $$(test -f $(DEFAULT_RUN)/checkpoint.pt && echo --resume)
	.build/release/timbre pack $(DEFAULT_RUN) Resources/default
	@echo "train-default: packed into Resources/default; update Resources/default/MODEL.md (run, step, make eval-default's numbers)"

eval-default: release
	@test -f $(DRUMS)/manifest.jsonl || $(MAKE) drums-data
	.build/release/timbre train $(DRUMS) --out $(DEFAULT_EVAL_RUN) $(DEFAULT_RECIPE) $$(test -f $(DEFAULT_EVAL_RUN)/checkpoint.pt && echo --resume)
	.build/release/timbre bench drums $(DEFAULT_EVAL_RUN) --dataset $(DRUMS) --out $(DEFAULT_EVAL_RUN)-bench

# The executables in PREFIX/bin and the default model in PREFIX/share/timbre/default, where
# timbre-core looks for it beside PREFIX/bin.
PREFIX ?= /usr/local
install: release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/timbre/default
	install .build/release/timbre .build/release/timbre-core $(DESTDIR)$(PREFIX)/bin/
	install -m 644 Resources/default/* $(DESTDIR)$(PREFIX)/share/timbre/default/

# Rebuild the committed fixture models (needs /usr/bin/python3 with python3-torch).
fixtures: bootstrap
	/usr/bin/python3 Tests/Fixtures/make_models.py Tests/Fixtures/models

clean:
	rm -rf .build demo-out
