/// A causal context: exactly which dots a state has seen.
///
/// A vector clock covers each replica's contiguous prefix of dots; the *dot cloud* holds
/// the dots seen out of order. `compact()` moves cloud dots into the vector as soon as they
/// become contiguous, so in the common case (causal delivery) the cloud stays empty.
/// Removes in causal CRDTs carry only a context: that is why Concord needs no tombstones.
/// See Almeida, Shoker and Baquero, "Delta State Replicated Data Types" (JPDC 2018).
public struct CausalContext: Hashable, Sendable, CustomStringConvertible {
    /// The contiguous part.
    public private(set) var vector: VectorClock
    /// Dots seen beyond the vector's prefix, never covered by `vector`.
    public private(set) var cloud: Set<Dot>

    /// The empty context (nothing seen).
    public init() {
        vector = VectorClock()
        cloud = []
    }

    /// A context that has seen exactly `vector` and `cloud`, compacted.
    public init(vector: VectorClock, cloud: Set<Dot> = []) {
        self.vector = vector
        self.cloud = cloud
        compact()
    }

    /// Whether nothing has been seen.
    public var isEmpty: Bool { vector.isEmpty && cloud.isEmpty }

    /// Whether `dot` has been seen. - Complexity: O(log n).
    public func contains(_ dot: Dot) -> Bool {
        vector.contains(dot) || cloud.contains(dot)
    }

    /// The next dot of `replica`: one past every dot of it seen so far. Does not record it.
    public func nextDot(for replica: ReplicaID) -> Dot {
        var highest = vector[replica]
        for dot in cloud where dot.replica == replica { highest = Swift.max(highest, dot.counter) }
        return Dot(replica: replica, counter: highest + 1)
    }

    /// Throws unless `count` more dots of `replica` can be made. Only a context decoded
    /// from corrupt or hostile input can be this close to UInt64.max; an operation checks
    /// before it changes anything, so it throws instead of trapping in `nextDot`.
    /// - Throws: `CRDTError` `.overflow`.
    public func requireDots(_ count: Int, for replica: ReplicaID) throws(CRDTError) {
        var highest = vector[replica]
        for dot in cloud where dot.replica == replica { highest = Swift.max(highest, dot.counter) }
        guard UInt64.max - highest >= UInt64(Swift.max(count, 0)) else {
            throw CRDTError(.overflow, "the dots of \(replica) are exhausted (\(highest) seen); nothing was changed")
        }
    }

    /// Records a fresh dot of `replica` and returns it.
    public mutating func makeDot(for replica: ReplicaID) -> Dot {
        let dot = nextDot(for: replica)
        insert(dot)
        return dot
    }

    /// Records that `dot` has been seen.
    public mutating func insert(_ dot: Dot) {
        if vector.contains(dot) { return }
        if dot.counter == vector[dot.replica] + 1 {
            vector[dot.replica] = dot.counter
            if !cloud.isEmpty { compact() }
        } else {
            cloud.insert(dot)
        }
    }

    /// Joins another context into this one (set union), compacted.
    public mutating func merge(_ other: CausalContext) {
        vector.merge(other.vector)
        if !other.cloud.isEmpty { cloud.formUnion(other.cloud) }
        if !cloud.isEmpty { compact() }
    }

    /// The union of two contexts.
    public func merging(_ other: CausalContext) -> CausalContext {
        var copy = self
        copy.merge(other)
        return copy
    }

    /// Moves contiguous cloud dots into the vector and drops the ones it covers.
    public mutating func compact() {
        guard !cloud.isEmpty else { return }
        var progressed = true
        while progressed {
            progressed = false
            for dot in cloud {
                let current = vector[dot.replica]
                // Covered first: `current + 1` would overflow for a vector entry of
                // UInt64.max (only hostile input gets there, and it must not trap).
                if dot.counter <= current {
                    cloud.remove(dot)
                    progressed = true
                } else if dot.counter == current + 1 {
                    vector[dot.replica] = dot.counter
                    cloud.remove(dot)
                    progressed = true
                }
            }
        }
    }

    /// `vector + {cloud}`.
    public var description: String {
        cloud.isEmpty ? vector.description : "\(vector) + \(cloud.sorted())"
    }
}

extension CausalContext: BinaryCodable {
    /// Encodes the vector, then the cloud sorted.
    public func encode(to writer: inout ByteWriter) {
        vector.encode(to: &writer)
        writer.writeCount(cloud.count)
        for dot in cloud.sorted() {
            writer.writeVarUInt(dot.replica.rawValue)
            writer.writeVarUInt(dot.counter)
        }
    }

    /// Decodes a context in canonical (compacted) form; a cloud dot covered by the vector,
    /// contiguous with it, zero or repeated is an error.
    public init(from reader: inout ByteReader) throws(CodecError) {
        let vector = try VectorClock(from: &reader)
        let count = try reader.readCount(minimumElementSize: 2)
        var cloud = Set<Dot>()
        cloud.reserveCapacity(count)
        var previous: Dot?
        for _ in 0..<count {
            let dot = Dot(replica: ReplicaID(try reader.readVarUInt()), counter: try reader.readVarUInt())
            if let previous, previous >= dot { throw reader.error(.inconsistent, "cloud dots out of order at \(dot)") }
            // `counter - 1 <= vector`, not `counter <= vector + 1`: a vector entry of
            // UInt64.max must be an error, not an overflow trap.
            if dot.counter == 0 || dot.counter - 1 <= vector[dot.replica] {
                throw reader.error(.inconsistent, "cloud dot \(dot) is covered by or contiguous with \(vector)")
            }
            cloud.insert(dot)
            previous = dot
        }
        self.vector = vector
        self.cloud = cloud
    }
}

extension Dot: BinaryCodable {
    /// Encodes the replica and the counter.
    public func encode(to writer: inout ByteWriter) {
        writer.writeVarUInt(replica.rawValue)
        writer.writeVarUInt(counter)
    }

    /// Decodes a dot; a zero counter is an error.
    public init(from reader: inout ByteReader) throws(CodecError) {
        let replica = ReplicaID(try reader.readVarUInt())
        let counter = try reader.readVarUInt()
        guard counter > 0 else { throw reader.error(.inconsistent, "dot counter is zero") }
        self.init(replica: replica, counter: counter)
    }
}

extension ReplicaID: BinaryCodable {
    /// Encodes the raw number.
    public func encode(to writer: inout ByteWriter) { writer.writeVarUInt(rawValue) }
    /// Decodes the raw number.
    public init(from reader: inout ByteReader) throws(CodecError) { self.init(try reader.readVarUInt()) }
}
