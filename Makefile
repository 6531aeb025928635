# NeuroNova. `make run` opens the workstation on the embedded demo study; `make test` runs every test.
# Both install what is missing first (scripts/setup.sh).
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
export LANG := en_US.UTF-8
export LC_ALL := en_US.UTF-8
export ONNXRUNTIME_SHARED_LIBRARY_PATH ?= $(CURDIR)/.deps/onnxruntime-1.30.0/libonnxruntime.so.1
# Link Debian's libsqlite3 instead of compiling the amalgamation: half the cold build.
export GOFLAGS := -tags=libsqlite3

BIN := bin
ARGS ?=

.PHONY: run test setup build bench fmt vet clean

run: build
	$(BIN)/neuronova $(ARGS)

test: setup
	scripts/test.sh

setup:
	@scripts/setup.sh

build: setup
	go build -o $(BIN)/neuronova ./cmd/neuronova
	go build -o $(BIN)/neuronova-server ./cmd/neuronova-server

bench: setup
	go test -run '^$$' -bench . -benchmem ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	go vet ./...

clean:
	rm -rf $(BIN)
