# ferry's build. `make test` builds and installs everything it needs by itself.
GO      ?= go
BIN     := bin
FERRY   := $(BIN)/ferry
export CGO_ENABLED ?= 0

.PHONY: all build test unit fuzz vet demo bench docs clean

all: build

build:
	$(GO) build -trimpath -o $(FERRY) ./cmd/ferry

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

unit:
	$(GO) test -count=1 ./...

test: vet unit

clean:
	rm -rf $(BIN) out
