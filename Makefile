# erasured — see README.md. Every target works on a fresh machine with Go.
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 10s
BIN       := bin/erasured

.PHONY: all build run test test-short vet fmt fmt-check tidy-check fuzz bench clean ci

all: fmt-check vet test

build:
	@echo "building erasured (first build takes a minute)..."
	@$(GO) build -o $(BIN) ./cmd/erasured

## run: build, then the daemon on its embedded dev stack (in-process Kafka,
## vendor sandboxes, sample events); DEVFLAGS adds flags of `erasured dev -h`:
## make run DEVFLAGS='-rate 25 -log-level debug'.
## On a terminal, `set -m` (job control) runs erasured in its own foreground
## process group, so Ctrl-C reaches erasured alone: it drains, exits 0, and
## make, not interrupted itself, reports no error.
run: build
	@[ -t 0 ] && set -m; ./$(BIN) dev $(DEVFLAGS)

## test: every unit and kfake integration test, with the race detector.
## The integration tests mostly wait (group joins, session timeouts,
## throttled sandboxes), each on its own kfake cluster, so more of them run
## at once than there are cores (go test's default -parallel).
## TESTTIMEOUT is per package binary: internal/daemon's tests add up to
## minutes under -race on two cores, near go test's default of 10m.
TESTPARALLEL ?= 8
TESTTIMEOUT  ?= 30m
test:
	$(GO) test -race -count=1 -parallel $(TESTPARALLEL) -timeout $(TESTTIMEOUT) $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## tidy-check: fail when go.mod or go.sum is not what `go mod tidy` makes
## (a direct dependency marked // indirect, a missing or stale sum line);
## prints the diff. `go mod tidy` fixes it.
tidy-check:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

## fuzz: run every fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

## bench: erasured against a naive consumer on the same backlogs (kfake,
## plus KAFKA_BROKERS when set), vendors instant, slow (LATENCY) and one
## throttled at RPS, one down (OUTAGE_N events, Exotel 503 throughout); prints
## the tables. BACKLOG=1000000 adds the peak-RSS run.
## A scenario whose count is 0 is skipped. See docs/performance.md.
N          ?= 20000
LATENCY_N  ?= 4000
THROTTLE_N ?= 10000
BACKLOG    ?= 0
LATENCY    ?= 50ms
RPS        ?= 500
OUTAGE_N   ?= 10000
bench:
	$(GO) run ./cmd/erasured-bench -n $(N) -latency-n $(LATENCY_N) -throttle-n $(THROTTLE_N) \
	  -backlog $(BACKLOG) -latency $(LATENCY) -rps $(RPS) -outage-n $(OUTAGE_N) $(BENCHFLAGS)

clean:
	rm -rf bin

## ci: what CI runs (.ci/run): gofmt, vet, make test, make test-kafka.
ci:
	bash .ci/run

## kafka-start / kafka-stop / kafka-status: a real single-node Kafka (KRaft) on
## 127.0.0.1:19092 built from Maven Central jars; see scripts/kafka-local.sh.
.PHONY: kafka-start kafka-stop kafka-status
kafka-start:
	bash scripts/kafka-local.sh start

kafka-stop:
	bash scripts/kafka-local.sh stop

kafka-status:
	bash scripts/kafka-local.sh status

## test-kafka: the reliability suite against a real Kafka. With KAFKA_BROKERS
## set it uses that cluster; otherwise it starts (and then stops) the local
## broker from scripts/kafka-local.sh. Where Docker runs, `go test ./internal/e2e`
## alone starts Kafka with testcontainers instead.
.PHONY: test-kafka
test-kafka:
	@if [ -n "$$KAFKA_BROKERS" ]; then \
	  $(GO) test -race -count=1 -v -timeout 40m ./internal/e2e/; \
	else \
	  started=0; \
	  if ! bash scripts/kafka-local.sh status >/dev/null 2>&1; then bash scripts/kafka-local.sh start >/dev/null && started=1 || exit 1; fi; \
	  KAFKA_BROKERS=127.0.0.1:$${KAFKA_PORT:-19092} ERASURED_KAFKA_LOCAL_SCRIPT=$(CURDIR)/scripts/kafka-local.sh \
	    $(GO) test -race -count=1 -v -timeout 40m ./internal/e2e/; status=$$?; \
	  if [ $$started = 1 ]; then bash scripts/kafka-local.sh stop >/dev/null; fi; \
	  exit $$status; \
	fi

## image: the container image, a static binary on scratch running as
## 65532 (needs a Docker engine with BuildKit); IMAGE names it.
IMAGE ?= erasured:dev
.PHONY: image
image:
	docker build -f deployments/Dockerfile -t $(IMAGE) .
