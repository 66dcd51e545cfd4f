# The commands a newcomer needs: `make run` and `make test`. See README.md.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: setup build run test bench clean

setup:
	@scripts/setup

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Only what the server needs (the tests are about half of the build).
run: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target kumo kumo-model
	scripts/run $(BUILD)/src/server/kumo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

bench: build
	@scripts/setup --bench
	bench/run $(BUILD)

clean:
	rm -rf $(BUILD)
