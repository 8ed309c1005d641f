#!/bin/sh
# Instructions per operation of each ConcordInstructions workload under valgrind's callgrind:
# (run with N operations - run with none) / N. Repeatable for one binary whatever else the
# machine does. Usage: instructions.sh [BINARY] (default: this package's release build).
set -eu
binary=${1:-"$(dirname "$0")/.build/release/ConcordInstructions"}
# valgrind 3.19 cannot read the DWARF of Swift 6.3's release builds: count a stripped copy.
stripped=$(mktemp /tmp/concord-instructions.XXXXXX)
trap 'rm -f "$stripped"' EXIT
strip --strip-debug -o "$stripped" "$binary"
# Swift seeds its hashing per process; fixed, dictionaries probe alike from run to run.
count() {
    SWIFT_DETERMINISTIC_HASHING=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$stripped" "$1" "$2" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for spec in ${WORKLOADS:-update:2000 read:2000 replicated:300 batch:100 hot:2000 hot-1:2000 hot-100:2000}; do
    workload=${spec%%:*}
    n=${spec##*:}
    with=$(count "$workload" "$n")
    without=$(count "$workload" 0)
    if [ -z "$with" ] || [ -z "$without" ]; then
        echo "instructions.sh: callgrind counted nothing for $workload" >&2
        exit 1
    fi
    echo "$workload: $(( (with - without) / n )) instructions per operation (N = $n)"
done
