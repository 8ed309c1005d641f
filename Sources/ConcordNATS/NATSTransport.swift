import Concord
import Dispatch
import Foundation
import Locking
import Logging
import NATSClient

/// The transport between members in separate processes: every message goes through one
/// JetStream work-queue stream (see `NATSReplicationOptions`).
///
/// - Sending never blocks the replica: `send` puts the message on an outbox that a task
///   publishes from, up to `publishWindow` publishes waiting at once, each tried again with
///   the same `Nats-Msg-Id` until the stream acknowledges it (a leader change stalls
///   publishes for seconds; the stream drops the duplicate of a retried one).
/// - A message larger than the server's `max_payload` (a state transfer) is sent as chunks
///   with a `Concord-Chunk` header and reassembled before delivery.
/// - Receiving: a task fetches the member's messages in batches and hands each to the replica
///   on one serial queue; it acknowledges a message only after the replica has taken it, so
///   one whose commit a crash prevents is delivered again.
/// - Timers run on the same serial queue.
final class NATSTransport: Transport, @unchecked Sendable {
    static let chunkHeader = "Concord-Chunk"
    /// The most chunked messages reassembled at once.
    static let maximumPartialMessages = 16

    let connection: NATSConnection
    let jetStream: JetStreamContext
    let clusterName: String
    let local: ReplicaID
    let options: NATSReplicationOptions
    let logger: Logger
    /// Where the replica's calls from this transport run, one at a time.
    private let queue = DispatchQueue(label: "concord.nats.delivery")
    private let state = Mutex(State())
    private let outbox: AsyncStream<Outgoing>
    private let outboxInput: AsyncStream<Outgoing>.Continuation
    /// A prefix no other process uses, so that message ids are unique across restarts.
    private let token = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    private let startInstant = ContinuousClock.now
    private let startWallClockMicroseconds = UInt64(max(0, Date().timeIntervalSince1970) * 1_000_000)

    private struct State {
        var endpoint: (any TransportEndpoint)?
        var nextMessage: UInt64 = 0
        var closed = false
        var tasks: [Task<Void, Never>] = []
        var partial: [String: Reassembly] = [:]
        var published: UInt64 = 0
        var publishFailures: UInt64 = 0
        var delivered: UInt64 = 0
    }

    private struct Outgoing: Sendable {
        var bytes: [UInt8]
        var to: ReplicaID
        var id: String
    }

    /// The chunks of one message received so far.
    private struct Reassembly {
        var chunks: [[UInt8]?]
        var received = 0
        var messages: [JetStreamMessage] = []
        var firstSeen: ContinuousClock.Instant
    }

    var streamName: String { "CONCORD_\(clusterName)" }
    func subject(of replica: ReplicaID) -> String { "concord.\(clusterName).to.\(replica.rawValue)" }
    var durableName: String { "replica-\(local.rawValue)" }

    /// Connects, and makes the stream and this member's consumer when they are missing.
    static func connect(
        clusterName: String, local: ReplicaID, options: NATSReplicationOptions, logger: Logger
    ) async throws -> NATSTransport {
        let connection = try await NATSConnection.connect(options.nats)
        do {
            let transport = NATSTransport(
                connection: connection, clusterName: clusterName, local: local, options: options, logger: logger)
            try await transport.setUp()
            return transport
        } catch {
            await connection.close()
            throw error
        }
    }

    private init(
        connection: NATSConnection, clusterName: String, local: ReplicaID, options: NATSReplicationOptions,
        logger: Logger
    ) {
        self.connection = connection
        jetStream = JetStreamContext(connection)
        self.clusterName = clusterName
        self.local = local
        self.options = options
        self.logger = logger
        (outbox, outboxInput) = AsyncStream.makeStream(of: Outgoing.self)
    }

    /// Makes the stream and the consumer, trying again for `setUpTimeout` while JetStream is
    /// not ready (servers still forming their cluster, a leader being elected).
    private func setUp() async throws {
        let deadline = ContinuousClock.now + Self.setUpTimeout
        while true {
            do {
                try await makeStreamAndConsumer()
                return
            } catch let error as NATSError where Self.isTransient(error) && ContinuousClock.now < deadline {
                logger.notice("JetStream is not ready; trying again", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    static let setUpTimeout = Duration.seconds(30)

    /// Errors that a JetStream cluster still forming, or electing a leader, answers with.
    static func isTransient(_ error: NATSError) -> Bool {
        switch error.kind {
        case .timeout, .noResponders, .connectionLost: return true
        // 10005: no suitable peers for placement; 10008: JetStream not ready (2.9's codes).
        case .jetStream(let code, let errCode, _): return code == 503 || errCode == 10005 || errCode == 10008
        default: return false
        }
    }

    private func makeStreamAndConsumer() async throws {
        var stream = StreamConfig(name: streamName, subjects: ["concord.\(clusterName).to.*"])
        stream.retention = .workQueue
        stream.storage = .file
        stream.replicas = options.streamReplicas
        stream.maxMessagesPerSubject = Int64(options.maximumPendingMessagesPerMember)
        stream.maxBytes = Int64(options.maximumStreamBytes)
        stream.discard = .old
        stream.duplicateWindow = .seconds(120)
        // A member uses the stream as another member made it (its limits and copies may
        // differ from this one's options), and makes it only when it is missing.
        if let existing = try await existingStream() {
            try check(existing, against: stream)
        } else {
            do {
                _ = try await jetStream.createStream(stream)
            } catch let error as NATSError where error.kind == .streamConfigurationMismatch {
                // Made by another member since the lookup.
                guard let existing = try await existingStream() else { throw error }
                try check(existing, against: stream)
            }
        }
        var consumer = ConsumerConfig(durableName: durableName)
        consumer.filterSubject = subject(of: local)
        consumer.ackWait = options.acknowledgementWait
        consumer.maxAckPending = max(1_000, options.fetchBatch * 8)
        _ = try await jetStream.createDurableConsumer(stream: streamName, consumer)
    }

    /// The cluster's stream's configuration, or nil when there is no such stream.
    private func existingStream() async throws -> StreamConfig? {
        do {
            return try await jetStream.streamInfo(streamName).config
        } catch let error as NATSError {
            // 10059: stream not found.
            if case .jetStream(_, 10059, _) = error.kind { return nil }
            throw error
        }
    }

    /// Throws unless `existing` is a work queue over the subjects `wanted` names.
    private func check(_ existing: StreamConfig, against wanted: StreamConfig) throws {
        guard existing.retention == .workQueue, existing.subjects == wanted.subjects else {
            throw NATSError(
                .streamConfigurationMismatch,
                "the stream \(streamName) exists but is not a work queue over \(wanted.subjects); "
                    + "delete it or give the cluster another name")
        }
        if existing.replicas != wanted.replicas || existing.maxBytes != wanted.maxBytes {
            logger.notice(
                "the cluster's stream exists with other settings than this member's; using it as it is",
                metadata: ["replicas": "\(existing.replicas)", "maxBytes": "\(existing.maxBytes)"])
        }
    }

    /// Starts publishing and fetching.
    func start() {
        let publisher = Task { [self] in await publishLoop() }
        let receiver = Task { [self] in await fetchLoop() }
        state.withLock { $0.tasks += [publisher, receiver] }
    }

    /// Stops fetching and timers, publishes what the outbox still holds (waiting at most
    /// `drainTimeout`), and closes the connection. What is not published by then is dropped:
    /// the replication protocol sends its content again.
    func close(drainTimeout: Duration) async {
        let tasks = state.withLock { state -> [Task<Void, Never>] in
            state.closed = true
            state.endpoint = nil
            return state.tasks
        }
        outboxInput.finish()
        guard tasks.count == 2 else {
            await connection.close()
            return
        }
        let (publisher, receiver) = (tasks[0], tasks[1])
        receiver.cancel()
        let deadline = Task {
            try? await Task.sleep(for: drainTimeout)
            publisher.cancel()
        }
        await publisher.value
        deadline.cancel()
        await receiver.value
        await connection.close()
    }

    /// Messages published and acknowledged by the stream, publishes given up, and messages
    /// handed to the replica.
    var counts: (published: UInt64, failed: UInt64, delivered: UInt64) {
        state.withLock { ($0.published, $0.publishFailures, $0.delivered) }
    }

    // MARK: Transport

    var nowMicroseconds: UInt64 {
        let elapsed = ContinuousClock.now - startInstant
        return startWallClockMicroseconds + UInt64(elapsed.components.seconds) * 1_000_000
            + UInt64(elapsed.components.attoseconds / 1_000_000_000_000)
    }

    var retransmitTimeoutMicroseconds: UInt64 {
        let (seconds, attoseconds) = options.retransmitTimeout.components
        return UInt64(max(0, seconds)) * 1_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000_000)
    }

    func attach(_ endpoint: any TransportEndpoint, as replica: ReplicaID) {
        precondition(replica == local, "a NATS transport carries the messages of replica \(local) only")
        state.withLock { $0.endpoint = endpoint }
    }

    func detach(_ replica: ReplicaID) {
        state.withLock { $0.endpoint = nil }
    }

    func send(_ bytes: [UInt8], from sender: ReplicaID, to receiver: ReplicaID) {
        let id: String? = state.withLock { state in
            guard !state.closed else { return nil }
            state.nextMessage += 1
            return "\(clusterName).\(sender.rawValue).\(token).\(state.nextMessage)"
        }
        guard let id else { return }
        outboxInput.yield(Outgoing(bytes: bytes, to: receiver, id: id))
    }

    /// Every timer asked for fires (the core keeps no list of its own: a timer dropped here
    /// would be a wake-up lost, and a member with unshipped transactions would sit idle).
    func scheduleTick(for replica: ReplicaID, at timeMicroseconds: UInt64) {
        guard !state.withLock({ $0.closed }) else { return }
        let now = nowMicroseconds
        let delay = timeMicroseconds > now ? timeMicroseconds - now : 0
        queue.asyncAfter(deadline: .now() + .microseconds(Int(min(delay, 3_600_000_000)))) { [self] in
            state.withLock { $0.endpoint }?.tick()
        }
    }

    /// Every member is reachable while the transport is open: the stream keeps what a member
    /// that is down has not fetched yet.
    func canReach(from sender: ReplicaID, to receiver: ReplicaID) -> Bool {
        state.withLock { !$0.closed }
    }

    // MARK: Publishing

    private func publishLoop() async {
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for await message in outbox {
                if inFlight >= options.publishWindow {
                    await group.next()
                    inFlight -= 1
                }
                group.addTask { [self] in await publish(message) }
                inFlight += 1
            }
            await group.waitForAll()
        }
    }

    /// Publishes one message, in chunks when it is larger than one NATS message may be.
    private func publish(_ message: Outgoing) async {
        let limit = max(1_024, connection.serverInfo.maxPayloadBytes - 4_096)
        let subject = subject(of: message.to)
        let count = (message.bytes.count + limit - 1) / limit
        do {
            if count <= 1 {
                _ = try await jetStream.publish(
                    subject, payload: message.bytes, messageID: message.id, timeout: options.publishTimeout,
                    attempts: options.publishAttempts)
            } else {
                for index in 0..<count {
                    let start = index * limit
                    let chunk = Array(message.bytes[start..<min(message.bytes.count, start + limit)])
                    let headers = try NATSHeaders([(Self.chunkHeader, "\(message.id) \(index) \(count)")])
                    _ = try await jetStream.publish(
                        subject, headers: headers, payload: chunk, messageID: "\(message.id).\(index)",
                        timeout: options.publishTimeout, attempts: options.publishAttempts)
                }
            }
            state.withLock { $0.published += 1 }
        } catch {
            state.withLock { $0.publishFailures += 1 }
            if !Task.isCancelled {
                logger.warning(
                    "a replication message was not published; its content is sent again later",
                    metadata: ["to": "\(message.to.rawValue)", "bytes": "\(message.bytes.count)", "error": "\(error)"])
            }
        }
    }

    // MARK: Receiving

    /// Takes what is waiting in batches (`no_wait`: the server answers at once); when nothing
    /// is, waits for one message with a pull that lasts a second, so that a message is taken
    /// as soon as it is stored rather than when a batch fills or a pull expires.
    private func fetchLoop() async {
        var waitForOne = false
        while !Task.isCancelled && !state.withLock({ $0.closed }) {
            do {
                let messages =
                    waitForOne
                    ? try await jetStream.fetch(
                        stream: streamName, durable: durableName, batch: 1, expires: .seconds(1))
                    : try await jetStream.fetch(
                        stream: streamName, durable: durableName, batch: options.fetchBatch, expires: .seconds(1),
                        noWait: true)
                for message in messages { await take(message) }
                waitForOne = messages.isEmpty
            } catch {
                if Task.isCancelled { return }
                logger.warning("fetching replication messages failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// Delivers one fetched message (or, for a chunk, the message it completes) and then
    /// acknowledges it.
    private func take(_ message: JetStreamMessage) async {
        guard let chunk = message.message.headers?.values(for: Self.chunkHeader).first else {
            if await deliver(message.message.payload) { acknowledge([message]) }
            return
        }
        let fields = chunk.split(separator: " ")
        guard fields.count == 3, let index = Int(fields[1]), let count = Int(fields[2]), count > 0, count <= 4_096,
            (0..<count).contains(index)
        else {
            logger.warning("a malformed chunk header was dropped", metadata: ["header": "\(chunk)"])
            acknowledge([message])
            return
        }
        let id = String(fields[0])
        var expired: [JetStreamMessage] = []
        defer { acknowledge(expired) }
        let complete: ([UInt8], [JetStreamMessage])? = state.withLock { state in
            let now = ContinuousClock.now
            // A message whose other chunks never came (a publish given up) is dropped after a
            // while; its sender sends the content again.
            for (key, entry) in state.partial where now - entry.firstSeen > .seconds(120) {
                expired += entry.messages
                state.partial[key] = nil
            }
            // At most a few messages are ever half received (a sender sends one state at a
            // time); more is a fault or an attack, and the oldest goes.
            if state.partial[id] == nil, state.partial.count >= Self.maximumPartialMessages,
                let oldest = state.partial.min(by: { $0.value.firstSeen < $1.value.firstSeen })
            {
                expired += oldest.value.messages
                state.partial[oldest.key] = nil
            }
            var entry =
                state.partial[id] ?? Reassembly(chunks: Array(repeating: nil, count: count), firstSeen: now)
            guard entry.chunks.count == count else {
                expired.append(message)  // A chunk that contradicts its siblings: dropped.
                return nil
            }
            if entry.chunks[index] == nil {
                entry.chunks[index] = message.message.payload
                entry.received += 1
            }
            entry.messages.append(message)
            guard entry.received == count else {
                state.partial[id] = entry
                return nil
            }
            state.partial[id] = nil
            return (entry.chunks.flatMap { $0! }, entry.messages)
        }
        guard let (bytes, messages) = complete else { return }
        if await deliver(bytes) { acknowledge(messages) }
    }

    /// Hands `bytes` to the replica and returns once it has taken them (committed what they
    /// carry); false when no replica is attached (it closed): then the message stays
    /// unacknowledged and comes again.
    private func deliver(_ bytes: [UInt8]) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            queue.async { [self] in
                let endpoint = state.withLock { state in
                    if state.endpoint != nil { state.delivered += 1 }
                    return state.endpoint
                }
                endpoint?.receive(bytes)
                continuation.resume(returning: endpoint != nil)
            }
        }
    }

    private func acknowledge(_ messages: [JetStreamMessage]) {
        for message in messages {
            do {
                try message.ack()
            } catch {
                // Unacknowledged, it comes again after the wait; taking it twice is harmless.
                logger.debug("an acknowledgement was not sent", metadata: ["error": "\(error)"])
            }
        }
    }
}
