# Concord — build, test and run targets. Every target installs LMDB's headers first when
# they are missing (Debian: liblmdb-dev), so a fresh machine needs nothing else.

SWIFT        ?= swift
CONFIG       ?= debug
SEED         ?= 1
SECONDS      ?= 600
TARGET       ?= decoders
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps nats-deps test-cluster bench-cluster build test demo lint soak invariants fuzz bench bench-peers bench-instructions bench-suite check-ops tsan clean

all: build

# Installs liblmdb-dev when lmdb.h is missing (apt-get update first: a fresh image has no
# package lists).
deps:
	@if [ ! -f /usr/include/lmdb.h ]; then \
		echo "lmdb.h is missing: installing liblmdb-dev"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq liblmdb-dev; \
	fi

build: deps
	$(SWIFT) build -c $(CONFIG)

# The whole test suite: unit, property, scenario and simulation sweeps, fuzz regressions.
# The tests that need nats-server run in `make test-cluster`.
SERVER_TESTS = --skip NATSIntegrationTests --skip ConcordClusterTests
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build $(SERVER_TESTS)

# Installs Debian's nats-server (with JetStream) and openssl when they are missing.
nats-deps:
	@if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then \
		echo "nats-server is missing: installing Debian's nats-server"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nats-server; \
	fi
	@command -v openssl >/dev/null || { DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq openssl; }

# The NATS client against a real nats-server, and members as separate `concord replica run`
# processes replicating through one and through three nats-servers (each test starts its own
# servers on free ports with temporary stores, and stops them by pid).
test-cluster: deps nats-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter 'NATSIntegrationTests|ConcordClusterTests'

# The demo: a seeded simulation of 3 replicas under faults and a partition.
demo: deps
	$(SWIFT) run -c release concord simulate --seed $(SEED)

lint:
	$(SWIFT) format lint -r Sources Tests

# Observers, writers, background delivery, group commit and held write transactions on several threads under ThreadSanitizer
# (a separate build: every package is rebuilt with the sanitizer). CONCORD_TSAN swaps the
# standard library's Mutex, which ThreadSanitizer cannot see on Linux, for a pthread mutex
# (see Sources/Locking).
TSAN_FLAGS = --sanitize=thread --scratch-path .build-tsan -Xswiftc -DCONCORD_TSAN
tsan: deps
	$(SWIFT) build --build-tests $(TSAN_FLAGS)
	$(SWIFT) test --skip-build $(TSAN_FLAGS) --filter 'ObservationStressTests|ObservationTests|ConcurrencyTests|GroupCommitTests|HeldWriteTests|HeldWriteTransactionTests'

# A long randomized soak of the simulator (not part of `make test`).
soak: deps
	$(SWIFT) run -c release concord simulate --seeds 1...1000 --ops 3000

# The simulation sweep with the replica core's structure-walking invariant checks compiled
# in (ReplicaCore.checkInvariants; cheap assertions run in every debug build).
invariants: deps
	$(SWIFT) build -c release --scratch-path .build-invariants -Xswiftc -DCONCORD_INVARIANTS --product concord
	.build-invariants/release/concord simulate --seeds 1...200 --ops 300

# The ops files against real tools and a real `concord serve --workload`: promtool check
# rules / test rules / check metrics on a scrape, the dashboard's and the alerts' metric
# names in that scrape, the JSON endpoints, SIGTERM (exit 0). Installs Debian's prometheus
# package for promtool when it is missing, so it is not part of `make test`.
check-ops: deps
	SWIFT=$(SWIFT) CONFIG=$(CONFIG) ops/check-ops.sh

fuzz: deps
	$(MAKE) -C Fuzz run TARGET=$(TARGET) SECONDS=$(SECONDS)

# The benchmark table (Concord beside raw LMDB, same process and run; see BENCHMARKS.md).
# package-benchmark's malloc interposer is preloaded for the allocation counts.
# BENCH_ARGS: --quick, --settings noSync+writeMap,noSync,full, --keys N, --skip-replication.
# Instructions per operation under valgrind's callgrind (update, read, replicated update):
# repeatable whatever else the machine does, unlike wall clock (see BENCHMARKS.md).
bench-instructions: deps
	@command -v valgrind >/dev/null || { echo "valgrind is missing: installing it"; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq valgrind; }
	cd Benchmarks && $(SWIFT) build -c release --product ConcordInstructions
	Benchmarks/instructions.sh

bench: deps
	cd Benchmarks && $(SWIFT) build -c release --product ConcordBenchmarkTable
	seconds=$$($(PYCRDT_SECONDS)); \
	cd Benchmarks && LD_PRELOAD=$$PWD/.build/release/libMallocInterposerSwift.so \
		.build/release/ConcordBenchmarkTable $${seconds:+--pycrdt-seconds $$seconds} $(BENCH_ARGS)

# The convergence workload against pycrdt (Yjs's CRDT), both in this one run: pycrdt's time
# is the target of the Concord row. Installs pycrdt with pip when it is missing.
PYCRDT_SECONDS = { python3 -c 'import pycrdt' 2>/dev/null || python3 -m pip install --quiet pycrdt >&2; } && \
	python3 Benchmarks/peers/pycrdt_converge.py 33334 | tee /dev/stderr | sed -n 's/.* converge in \([0-9.]*\) s.*/\1/p'
bench-peers: deps
	cd Benchmarks && $(SWIFT) build -c release --product ConcordBenchmarkTable
	seconds=$$($(PYCRDT_SECONDS)); \
	cd Benchmarks && .build/release/ConcordBenchmarkTable --only-convergence --converge-updates 33334 \
		$${seconds:+--pycrdt-seconds $$seconds} $(BENCH_ARGS)

# Replication between processes through NATS JetStream, one server and three, beside the
# in-memory bus: visible updates per second and commit-to-visible latency at an observer
# (Benchmarks/Sources/ConcordClusterBench). BENCH_CLUSTER_ARGS: --updates N, --writers W,
# --only bus,nats-1,nats-3.
bench-cluster: deps nats-deps
	$(SWIFT) build -c release --product concord
	cd Benchmarks && $(SWIFT) build -c release --product ConcordClusterBench
	cd Benchmarks && .build/release/ConcordClusterBench --concord ../.build/release/concord $(BENCH_CLUSTER_ARGS)

# package-benchmark's own suite (latency and malloc counters per operation).
bench-suite: deps
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark

clean:
	rm -rf .build
