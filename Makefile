# The two commands of the README. Each one sets up what is missing (Debian packages, the build)
# before its job, so both work on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= 2

.PHONY: run test test-sanitize test-tools setup build format clean images deploy-test soak

run: build
	@bash scripts/run.sh "$(BUILD)" $(ARGS)

test: build test-tools
	@cd $(BUILD) && ctest -j$(JOBS) --output-on-failure --timeout 900

# The queue's promises under worker, Redis and S3 faults (docs/reliability.md): a few minutes.
soak: build test-tools
	@$(BUILD)/msaas-soak $(ARGS)

setup:
	@bash scripts/setup-deps.sh

build: setup
	@[ -f $(BUILD)/build.ninja ] || cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
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

# npm packages the tests use, pinned by their lock files: the S3 peer (s3rver) and the
# Kubernetes schema validator.
test-tools: setup
	@[ -x tests/s3peer/node_modules/.bin/s3rver ] || npm ci --prefix tests/s3peer --no-audit --no-fund
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

clean:
	rm -rf $(BUILD)
