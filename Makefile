# The two commands of the README. Each one sets up what is missing (Debian packages, the build)
# before its job, so both work on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= 2
# WERROR=ON: compiler warnings fail the build (CI). Given, it reconfigures the build folder when
# it differs; not given, the folder keeps what it was configured with (OFF when new), so
# `make test WERROR=ON` then `make test-sanitize` or `make run` do not rebuild everything.
WERROR ?=

.PHONY: run test test-sanitize test-tools setup build format format-check clean images deploy-test soak

run: build
	@bash scripts/run.sh "$(BUILD)" $(ARGS)

# The default test preset (CMakePresets.json) runs build/; CMake before 3.30 lets a preset's
# folder win over --test-dir, so another BUILD folder is run with the same settings by hand.
test: build test-tools
	@if [ "$(BUILD)" = build ]; then ctest --preset default -j$(JOBS); \
	 else cd $(BUILD) && ctest -j$(JOBS) --output-on-failure --timeout 900; fi

# The queue's promises under worker, Redis and S3 faults (docs/reliability.md): a few minutes.
soak: build test-tools
	@$(BUILD)/msaas-soak $(ARGS)

setup:
	@bash scripts/setup-deps.sh

build: setup
	@[ -f $(BUILD)/build.ninja ] || cmake --preset default -B $(BUILD) -DMSAAS_WERROR=$(or $(WERROR),OFF)
	@[ -z "$(WERROR)" ] || grep -qs 'MSAAS_WERROR:BOOL=$(WERROR)$$' $(BUILD)/CMakeCache.txt \
	  || cmake --preset default -B $(BUILD) -DMSAAS_WERROR=$(WERROR)
	@cmake --build $(BUILD) -j$(JOBS)
	@[ -d web/node_modules ] || npm ci --prefix web --no-audit --no-fund
	@node web/build.mjs $(BUILD)/web >/dev/null

# The suite again, built with AddressSanitizer + UndefinedBehaviorSanitizer (CMakePresets.json),
# leaving out what only measures the real model (slow under the sanitizers, and no different).
test-sanitize: build test-tools
	@[ -f build-sanitize/build.ninja ] || cmake --preset sanitize >/dev/null
	@cmake --build --preset sanitize
	@node web/build.mjs build-sanitize/web >/dev/null
	@ctest --preset sanitize -E 'fuzz_smoke|QualityGate|RealHtdemucs'

# npm packages the tests use, pinned by their lock files: the S3 peer (s3rver), the OpenAPI
# validators (tests/openapi) and the Kubernetes schema validator.
test-tools: setup
	@[ -x tests/s3peer/node_modules/.bin/s3rver ] || npm ci --prefix tests/s3peer --no-audit --no-fund
	@[ -d tests/openapi/node_modules/ajv ] || npm ci --prefix tests/openapi --no-audit --no-fund
	@[ -d deploy/validate/node_modules ] || npm ci --prefix deploy/validate --no-audit --no-fund

# Container images (podman), tagged from VERSION and the commit; CUDA=1 adds the GPU worker.
images:
	@bash scripts/build-images.sh $(if $(filter 1 yes true,$(CUDA)),--cuda)

# The built images for real: the compose stack and the Kubernetes manifests (podman kube play),
# one song through each, worker stops and kills (tests/deploy/).
deploy-test: images test-tools
	@bash tests/deploy/run.sh

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.h')

# What CI checks: every C++ file is as clang-format (.clang-format) writes it.
format-check: setup
	@clang-format --dry-run -Werror $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD)
