"""The convergence workload of BENCHMARKS.md in pycrdt (Yjs's CRDT, through yrs).

Three documents, cut off from each other, each make N edits (edit i of document r sets key
"k<i>" of one map to r * 1,000,000 + i, each edit its own transaction), as Concord's
`measureConvergence` does with three replicas and LWW registers. Then the clock starts, and
every document sends every other what it lacks (its update against the other's state vector)
until all three are equal; the time to get there is printed, with the bytes exchanged.

Usage: python3 pycrdt_converge.py [N]   (default 33334)
"""

import sys
import time

import pycrdt
from pycrdt import Doc, Map


def main() -> None:
    edits = int(sys.argv[1]) if len(sys.argv) > 1 else 33_334
    docs = []
    for replica in range(3):
        doc = Doc(client_id=replica + 1)
        entries = doc.get("converge", type=Map)
        for i in range(edits):
            entries[f"k{i}"] = replica * 1_000_000 + i
        docs.append(doc)

    start = time.perf_counter()
    sent = 0
    # Each sends each other what it lacks, in turn: after one pass every document has all.
    for source in docs:
        for target in docs:
            if source is target:
                continue
            update = source.get_update(target.get_state())
            sent += len(update)
            target.apply_update(update)
    seconds = time.perf_counter() - start

    maps = [doc.get("converge", type=Map) for doc in docs]
    values = [m.to_py() for m in maps]
    converged = values[0] == values[1] == values[2] and len(values[0]) == edits
    print(
        f"pycrdt {getattr(pycrdt, '__version__', '?')}: 3 x {edits} edits converge in {seconds:.3f} s, "
        f"{sent / (3 * edits):.1f} bytes per edit, converged: {'yes' if converged else 'NO'}"
    )
    if not converged:
        sys.exit(1)


if __name__ == "__main__":
    main()
