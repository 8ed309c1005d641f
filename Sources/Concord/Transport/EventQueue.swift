/// A min-heap of timed events; equal times come out in insertion order, so the simulation is
/// deterministic.
struct EventQueue<Event> {
    private struct Item {
        let time: UInt64
        let sequence: UInt64
        let event: Event
        func precedes(_ other: Item) -> Bool { (time, sequence) < (other.time, other.sequence) }
    }

    private var heap: [Item] = []
    private var nextSequence: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var nextTime: UInt64? { heap.first?.time }

    /// - Complexity: O(log n).
    mutating func push(_ event: Event, at time: UInt64) {
        heap.append(Item(time: time, sequence: nextSequence, event: event))
        nextSequence += 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// - Complexity: O(log n).
    mutating func pop() -> (time: UInt64, event: Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let item = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && heap[left].precedes(heap[smallest]) { smallest = left }
            if right < heap.count && heap[right].precedes(heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (item.time, item.event)
    }

    mutating func removeAll(where predicate: (Event) -> Bool) {
        let kept = heap.filter { !predicate($0.event) }
        heap = []
        for item in kept.sorted(by: { $0.precedes($1) }) { heap.append(item) }
    }
}
