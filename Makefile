# pggraph — see README.md. Every target runs as root on Debian 12.
GO      ?= go
BIN     := bin
# Debian packages the tests need; deploy/deps.sh installs the missing ones.
DEBS    := postgresql postgresql-client postgresql-15-pg-wait-sampling \
           openssh-server openssh-client apache2 libaprutil1-dbd-pgsql apache2-utils chromium rrdtool time \
           exim4-daemon-light gcc
TESTFLAGS ?= -count=1 -timeout 15m
# Static binaries: they copy to any Linux host, and a CGI process starts
# without the dynamic loader and cgo's thread setup (about 4 ms of CPU per
# image, measured). Tests and benchmarks that build programs inherit it.
export CGO_ENABLED := 0

.PHONY: all build deps check test test-hard bench demo demo-stop clean

all: build

## build: all programs into ./bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(BIN)/ ./cmd/...
	$(GO) build -trimpath -o $(BIN)/pggraph.cgi ./cgi-bin

## deps: install the Debian packages the tests and the demo need
deps:
	@deploy/deps.sh $(DEBS)

## check: formatting and go vet
check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# RACE_TESTS run again under the race detector (which needs cgo, and so
# gcc): the images the FastCGI server draws at once.
RACE_TESTS := Concurrently|TestAhead|TestHotSet

## test: every test, with real PostgreSQL and sshd started on loopback
test: deps build check
	$(GO) test $(TESTFLAGS) ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 -run '$(RACE_TESTS)' ./graph ./cgi-bin

## test-hard: faults, resets, deadlines, security and load against a real rig, then each fuzz target; prints a table (internal/testing/faults/README.md)
test-hard: deps build
	@GO=$(GO) internal/testing/faults/run.sh

## bench: every benchmark, several runs, then one table of medians with baselines, ratios and targets
bench: deps build
	@GO=$(GO) deploy/bench.sh

## demo: pggraph end to end on this machine (see README "Demo"); demo-stop ends it
demo: deps build
	@deploy/demo.sh start

demo-stop:
	@deploy/demo.sh stop

clean:
	rm -rf $(BIN)
