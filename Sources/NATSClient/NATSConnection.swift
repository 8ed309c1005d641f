import Locking
import NIOCore
import NIOPosix
import NIOSSL

import struct Foundation.Data
import class Foundation.JSONEncoder

/// A connection to a NATS server (or a cluster of them): publish, subscribe, request.
///
/// Publishing is pipelined: ``publish(_:replyTo:headers:payload:)`` appends the frame to
/// an outbound buffer and returns; the event loop writes everything queued in one write,
/// so a burst of publishes costs one system call, not one each. ``flush()`` waits until the
/// server has seen everything published before it.
///
/// When the connection drops, the client reconnects in the background (trying each
/// server of ``NATSOptions/servers`` after ``NATSOptions/reconnectWait``), subscribes
/// again to every live subscription, and sends what was published meanwhile, up to
/// ``NATSOptions/reconnectBufferBytes``. Requests in flight time out.
///
/// Call ``close()`` when done: the channel's handler holds the connection until then.
public final class NATSConnection: Sendable {
    /// Where the connection stands.
    public enum Status: Sendable, Equatable {
        /// Connected to a server.
        case connected
        /// The connection dropped; the client is trying the servers again.
        case reconnecting
        /// Closed by ``close()``, or given up after ``NATSOptions/maxReconnectAttempts``.
        case closed
    }

    let options: NATSOptions
    private let addresses: [NATSServerAddress]
    private let eventLoopGroup: any EventLoopGroup
    private let tlsContext: NIOSSLContext?
    private let state: Mutex<State>
    /// `_INBOX.<random>`: the shared reply subjects of requests are `<inboxPrefix>.<token>`.
    private let inboxPrefix: String

    private enum ChannelStatus {
        case connecting
        case connected(any Channel)
        case reconnecting
        case closed
    }

    private struct Subscription {
        var subject: String
        var queue: String?
        /// `nil` for the requests' shared inbox.
        var continuation: AsyncStream<NATSMessage>.Continuation?
        var droppedMessageCount = 0
    }

    private struct PendingRequest {
        var continuation: CheckedContinuation<NATSMessage, any Error>
        var timeout: Scheduled<Void>?
    }

    private struct State {
        var status = ChannelStatus.connecting
        var serverInfo: ServerInfo?
        var addressIndex = 0
        /// Bytes not yet handed to the channel.
        var pending: ByteBuffer
        var flushScheduled = false
        /// How many of the last `pongWaiters` sent their `PING` into `pending`, not yet handed
        /// to the channel: they survive a reconnection, the others cannot get their `PONG`.
        var pingsInPending = 0
        /// One entry per `PING` sent on the current channel, oldest first: a flush's
        /// continuation, or `nil` for a keep-alive ping.
        var pongWaiters: [CheckedContinuation<Void, any Error>?] = []
        var pingsOutstanding = 0
        var pingTask: RepeatedTask?
        var reconnectTask: Task<Void, Never>?
        var subscriptions: [UInt64: Subscription] = [:]
        var nextSid: UInt64 = 1
        var inboxSid: UInt64?
        var requests: [UInt64: PendingRequest] = [:]
        var nextRequestToken: UInt64 = 1
        var lastError: NATSError?
        var reconnectCount = 0
    }

    private init(options: NATSOptions, addresses: [NATSServerAddress], tlsContext: NIOSSLContext?) {
        self.options = options
        self.addresses = addresses
        self.tlsContext = tlsContext
        eventLoopGroup = MultiThreadedEventLoopGroup.singleton
        state = Mutex(State(pending: ByteBufferAllocator().buffer(capacity: 16_384)))
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        inboxPrefix = "_INBOX." + String((0..<22).map { _ in alphabet.randomElement(using: &generator)! })
    }

    /// Connects to the first of `options.servers` that completes the handshake.
    ///
    /// - Throws: ``NATSError`` of the last server tried: ``NATSError/Kind/connectionRefused``,
    ///   ``NATSError/Kind/authorization``, ``NATSError/Kind/tls``, ``NATSError/Kind/timeout``
    ///   (after ``NATSOptions/connectTimeout``); ``NATSError/Kind/invalidArgument`` for a
    ///   malformed URL or no server at all.
    public static func connect(_ options: NATSOptions) async throws(NATSError) -> NATSConnection {
        guard !options.servers.isEmpty else {
            throw NATSError(.invalidArgument, "no server to connect to")
        }
        var addresses: [NATSServerAddress] = []
        for server in options.servers {
            addresses.append(try NATSServerAddress(parsing: server))
        }
        let tlsContext =
            options.tls != nil || addresses.contains(where: \.tls)
            ? try makeTLSContext(options.tls ?? NATSTLS()) : nil
        let connection = NATSConnection(options: options, addresses: addresses, tlsContext: tlsContext)
        var lastError = NATSError(.connectionRefused, "no server tried")
        for index in addresses.indices {
            do {
                let (channel, info) = try await connection.handshake(with: addresses[index])
                try connection.install(channel, info, addressIndex: index)
                return connection
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    static func makeTLSContext(_ tls: NATSTLS) throws(NATSError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        do {
            if let caFile = tls.caFile {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            }
            if let certificateFile = tls.certificateFile {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map {
                    .certificate($0)
                }
            }
            if let privateKeyFile = tls.privateKeyFile {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: privateKeyFile, format: .pem))
            }
            if !tls.verifyServer {
                configuration.certificateVerification = .none
            }
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw NATSError(.tls, "TLS files could not be loaded: \(error)")
        }
    }

    // MARK: - Public interface

    /// What the server said of itself in its latest `INFO`.
    public var serverInfo: ServerInfo {
        state.withLock { $0.serverInfo! }
    }

    /// Where the connection stands now.
    public var status: Status {
        state.withLock {
            switch $0.status {
            case .connecting, .connected: .connected
            case .reconnecting: .reconnecting
            case .closed: .closed
            }
        }
    }

    /// How many times the connection was established again after a drop.
    public var reconnectCount: Int { state.withLock { $0.reconnectCount } }

    /// The last error the server reported or that ended a connection, if any.
    public var lastError: NATSError? { state.withLock { $0.lastError } }

    /// A new unique subject under this connection's inbox prefix (`_INBOX.<random>.<n>`),
    /// for replies that are not one-shot requests (a JetStream fetch).
    public func newInbox() -> String {
        let token = state.withLock { state in
            let token = state.nextRequestToken
            state.nextRequestToken += 1
            return token
        }
        return "\(inboxPrefix)_\(token)"
    }

    /// Queues a message for `subject`; returns without waiting for the network.
    ///
    /// - Throws: ``NATSError/Kind/invalidSubject`` for a bad subject or reply subject,
    ///   ``NATSError/Kind/invalidHeader``, ``NATSError/Kind/payloadTooLarge`` when the headers
    ///   and payload exceed the server's `max_payload` (nothing is sent),
    ///   ``NATSError/Kind/bufferFull``, ``NATSError/Kind/closed``.
    /// - Complexity: O(n) in the size of the message (one copy into the outbound buffer).
    public func publish(
        _ subject: String, replyTo: String? = nil, headers: NATSHeaders? = nil, payload: [UInt8]
    ) throws(NATSError) {
        try NATSProtocolEncoder.validateSubject(subject, wildcards: false)
        if let replyTo {
            try NATSProtocolEncoder.validateSubject(replyTo, wildcards: false)
        }
        let headerBlock = headers?.encoded()
        let messageBytes = (headerBlock?.count ?? 0) + payload.count
        let frameBytes = messageBytes + subject.utf8.count + (replyTo?.utf8.count ?? 0) + 48
        try enqueue(frameBytes: frameBytes, messageBytes: messageBytes) { buffer in
            NATSProtocolEncoder.writePublish(
                subject: subject, replyTo: replyTo, headerBlock: headerBlock, payload: payload, into: &buffer)
        }
    }

    /// Waits until the server has received everything published before (a `PING`/`PONG`
    /// round trip). While reconnecting, waits for the new connection.
    ///
    /// - Throws: ``NATSError/Kind/closed``, ``NATSError/Kind/connectionLost`` when the
    ///   connection dropped after the `PING` left, ``NATSError/Kind/bufferFull``.
    public func flush() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            do {
                try enqueue(frameBytes: 6, messageBytes: 0) { buffer in
                    NATSProtocolEncoder.writePing(into: &buffer)
                } whileLocked: { state in
                    state.pongWaiters.append(continuation)
                    state.pingsInPending += 1
                }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    /// Subscribes to `subject` (wildcards allowed), in queue group `queue` if given.
    ///
    /// The subscription is an `AsyncSequence` of messages; it ends when unsubscribed, when
    /// the connection closes, or when the task iterating it is cancelled. It is subscribed
    /// again automatically after a reconnection.
    ///
    /// - Throws: ``NATSError/Kind/invalidSubject``, ``NATSError/Kind/closed``,
    ///   ``NATSError/Kind/bufferFull``.
    public func subscribe(_ subject: String, queue: String? = nil) throws(NATSError) -> NATSSubscription {
        try NATSProtocolEncoder.validateSubject(subject, wildcards: true)
        if let queue {
            try NATSProtocolEncoder.validateQueue(queue)
        }
        let (stream, continuation) = AsyncStream.makeStream(
            of: NATSMessage.self, bufferingPolicy: .bufferingOldest(max(1, options.subscriptionBufferLimit)))
        var sid: UInt64 = 0
        try enqueue(frameBytes: subject.utf8.count + (queue?.utf8.count ?? 0) + 32, messageBytes: 0) { _ in
        } whileLocked: { state in
            sid = state.nextSid
            state.nextSid += 1
            state.subscriptions[sid] = Subscription(subject: subject, queue: queue, continuation: continuation)
            NATSProtocolEncoder.writeSubscribe(subject: subject, queue: queue, sid: sid, into: &state.pending)
        }
        let subscriptionSid = sid
        continuation.onTermination = { [weak self] _ in
            self?.unsubscribe(sid: subscriptionSid)
        }
        return NATSSubscription(connection: self, sid: sid, subject: subject, queue: queue, stream: stream)
    }

    /// Sends a request and waits for the first reply, through the connection's shared
    /// inbox subscription (`_INBOX.<random>.*`).
    ///
    /// - Throws: ``NATSError/Kind/noResponders`` when no one subscribes to `subject`,
    ///   ``NATSError/Kind/timeout`` after `timeout`, the errors of
    ///   ``publish(_:replyTo:headers:payload:)``, `CancellationError` when the task is
    ///   cancelled.
    public func request(
        _ subject: String, headers: NATSHeaders? = nil, payload: [UInt8], timeout: Duration
    ) async throws -> NATSMessage {
        try NATSProtocolEncoder.validateSubject(subject, wildcards: false)
        let token = try state.withLock { state throws(NATSError) -> UInt64 in
            if case .closed = state.status {
                throw NATSError(.closed, "connection closed")
            }
            if state.inboxSid == nil {
                let sid = state.nextSid
                state.nextSid += 1
                state.inboxSid = sid
                state.subscriptions[sid] = Subscription(subject: "\(inboxPrefix).*", queue: nil, continuation: nil)
                NATSProtocolEncoder.writeSubscribe(
                    subject: "\(inboxPrefix).*", queue: nil, sid: sid, into: &state.pending)
            }
            let token = state.nextRequestToken
            state.nextRequestToken += 1
            return token
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<NATSMessage, any Error>) in
                state.withLock { $0.requests[token] = PendingRequest(continuation: continuation) }
                do {
                    try publish(subject, replyTo: "\(inboxPrefix).\(token)", headers: headers, payload: payload)
                } catch {
                    finishRequest(token, with: .failure(error))
                    return
                }
                let scheduled = eventLoopGroup.next().scheduleTask(in: Self.timeAmount(timeout)) { [self] in
                    finishRequest(
                        token, with: .failure(NATSError(.timeout, "no reply to \(subject) within \(timeout)")))
                }
                let stillPending = state.withLock { state in
                    guard state.requests[token] != nil else { return false }
                    state.requests[token]!.timeout = scheduled
                    return true
                }
                if !stillPending {
                    scheduled.cancel()
                }
            }
        } onCancel: {
            finishRequest(token, with: .failure(CancellationError()))
        }
    }

    /// Closes the connection: sends what is queued, ends every subscription, fails every
    /// waiting flush and request with ``NATSError/Kind/closed``. Idempotent.
    public func close() async {
        let taken = state.withLock { state in
            let channel: (any Channel)?
            if case .connected(let current) = state.status { channel = current } else { channel = nil }
            state.status = .closed
            let taken = (
                channel: channel, pending: state.pending, pingTask: state.pingTask,
                reconnectTask: state.reconnectTask, waiters: state.pongWaiters,
                subscriptions: Array(state.subscriptions.values), requests: Array(state.requests.values)
            )
            state.pending.clear()
            state.pingTask = nil
            state.reconnectTask = nil
            state.pongWaiters = []
            state.subscriptions = [:]
            state.requests = [:]
            return taken
        }
        taken.pingTask?.cancel()
        taken.reconnectTask?.cancel()
        let closed = NATSError(.closed, "connection closed")
        for waiter in taken.waiters {
            waiter?.resume(throwing: closed)
        }
        for request in taken.requests {
            request.timeout?.cancel()
            request.continuation.resume(throwing: closed)
        }
        for subscription in taken.subscriptions {
            subscription.continuation?.finish()
        }
        guard let channel = taken.channel else { return }
        if taken.pending.readableBytes > 0 {
            // Best effort: the server may already be gone, and close owes nothing to anyone.
            do { try await channel.writeAndFlush(taken.pending) } catch {}
        }
        do { try await channel.close() } catch {}
    }

    // MARK: - Called by NATSSubscription

    func unsubscribe(sid: UInt64) {
        let continuation = state.withLock { state -> AsyncStream<NATSMessage>.Continuation? in
            guard let subscription = state.subscriptions.removeValue(forKey: sid) else { return nil }
            switch state.status {
            case .connected, .connecting, .reconnecting:
                NATSProtocolEncoder.writeUnsubscribe(sid: sid, into: &state.pending)
                scheduleFlushLocked(&state)?.execute { [self] in flushPending() }
            case .closed:
                break
            }
            return subscription.continuation
        }
        continuation?.finish()
    }

    func droppedMessageCount(sid: UInt64) -> Int {
        state.withLock { $0.subscriptions[sid]?.droppedMessageCount ?? 0 }
    }

    // MARK: - Called by the channel handler, on the event loop

    func connectJSON(address: NATSServerAddress, tls: Bool) throws(NATSError) -> String {
        struct Connect: Encodable {
            var verbose = false
            var pedantic = false
            var headers = true
            var no_responders = true
            var lang = "swift"
            var version = "0.1.0"
            var `protocol` = 1
            var name: String?
            var user: String?
            var pass: String?
            var tls_required: Bool
        }
        let user = address.user ?? options.user
        let password = address.user != nil ? address.password : options.password
        let connect = Connect(name: options.name, user: user, pass: password, tls_required: tls)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(connect), as: UTF8.self)
        } catch {
            throw NATSError(.invalidArgument, "CONNECT could not be encoded: \(error)")
        }
    }

    func deliver(sid: UInt64, _ message: NATSMessage) {
        let request = state.withLock { state -> PendingRequest? in
            if sid == state.inboxSid {
                let tokenText = message.subject.utf8.dropFirst(inboxPrefix.utf8.count + 1)
                guard let token = UInt64(String(decoding: tokenText, as: UTF8.self)) else { return nil }
                return state.requests.removeValue(forKey: token)
            }
            guard let continuation = state.subscriptions[sid]?.continuation else { return nil }
            if case .dropped = continuation.yield(message) {
                state.subscriptions[sid]?.droppedMessageCount += 1
            }
            return nil
        }
        guard let request else { return }
        request.timeout?.cancel()
        if message.status == 503 {
            request.continuation.resume(throwing: NATSError(.noResponders, "no responders for the request"))
        } else {
            request.continuation.resume(returning: message)
        }
    }

    func receivedPong() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            state.pingsOutstanding = 0
            guard !state.pongWaiters.isEmpty else { return nil }
            return state.pongWaiters.removeFirst()
        }
        waiter?.resume()
    }

    func updateServerInfo(_ info: ServerInfo) {
        state.withLock { $0.serverInfo = info }
    }

    func recordError(_ error: NATSError) {
        state.withLock { $0.lastError = error }
    }

    func channelBecameWritable(_ channel: any Channel) {
        flushPending()
    }

    func channelClosed(_ channel: any Channel) {
        let failed = state.withLock { state -> [CheckedContinuation<Void, any Error>?]? in
            guard case .connected(let current) = state.status, current === channel else { return nil }
            state.status = .reconnecting
            state.pingTask?.cancel()
            state.pingTask = nil
            state.flushScheduled = false
            state.pingsOutstanding = 0
            let sentCount = state.pongWaiters.count - state.pingsInPending
            let failed = Array(state.pongWaiters.prefix(sentCount))
            state.pongWaiters.removeFirst(sentCount)
            let startIndex = state.addressIndex
            state.reconnectTask = Task { [self] in
                await reconnect(after: startIndex)
            }
            return failed
        }
        guard let failed else { return }
        let error = NATSError(.connectionLost, "connection lost before the server answered PING")
        for waiter in failed {
            waiter?.resume(throwing: error)
        }
    }

    // MARK: - Connecting

    private func handshake(with address: NATSServerAddress) async throws(NATSError) -> (any Channel, ServerInfo) {
        let eventLoop = eventLoopGroup.next()
        let promise = eventLoop.makePromise(of: ServerInfo.self)
        let timeout = Self.timeAmount(options.connectTimeout)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { [self, tlsContext] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        NATSChannelHandler(
                            connection: self, address: address, tlsContext: tlsContext, connectTimeout: timeout,
                            handshake: promise))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: address.host, port: address.port).get()
        } catch {
            promise.fail(NATSError(.connectionRefused, "\(address.host):\(address.port): \(error)"))
            throw NATSError(.connectionRefused, "\(address.host):\(address.port): \(error)")
        }
        do {
            return (channel, try await promise.futureResult.get())
        } catch let error as NATSError {
            throw error
        } catch {
            throw NATSError(.connectionLost, "\(address.host):\(address.port): \(error)")
        }
    }

    /// Makes `channel` the connection's: subscribes again to every subscription, then sends
    /// what was queued meanwhile, and starts the keep-alive pings.
    private func install(_ channel: any Channel, _ info: ServerInfo, addressIndex: Int) throws(NATSError) {
        let ping = Self.timeAmount(options.pingInterval)
        try state.withLock { state throws(NATSError) in
            if case .closed = state.status {
                channel.close(promise: nil)
                throw NATSError(.closed, "connection closed while connecting")
            }
            if case .reconnecting = state.status {
                state.reconnectCount += 1
            }
            state.status = .connected(channel)
            state.serverInfo = info
            state.addressIndex = addressIndex
            var buffer = channel.allocator.buffer(capacity: state.pending.readableBytes + 64)
            for (sid, subscription) in state.subscriptions.sorted(by: { $0.key < $1.key }) {
                NATSProtocolEncoder.writeSubscribe(
                    subject: subscription.subject, queue: subscription.queue, sid: sid, into: &buffer)
            }
            buffer.writeImmutableBuffer(state.pending)
            state.pending = buffer
            state.flushScheduled = true
            state.pingsOutstanding = 0
            state.pingTask = channel.eventLoop.scheduleRepeatedTask(initialDelay: ping, delay: ping) {
                [weak self] _ in
                self?.keepAlive(channel)
            }
        }
        if !channel.isActive {
            // Closed between the handshake and now: channelInactive found no connected
            // status to act on, so start reconnecting from here.
            channelClosed(channel)
            return
        }
        channel.eventLoop.execute { [self] in flushPending() }
    }

    private func reconnect(after failedIndex: Int) async {
        var round = 0
        while options.maxReconnectAttempts < 0 || round < options.maxReconnectAttempts {
            round += 1
            do {
                try await Task.sleep(for: options.reconnectWait)
            } catch {
                return
            }
            for offset in 1...addresses.count {
                let index = (failedIndex + offset) % addresses.count
                if Task.isCancelled { return }
                do {
                    let (channel, info) = try await handshake(with: addresses[index])
                    try install(channel, info, addressIndex: index)
                    return
                } catch {
                    recordError(error)
                    if error.kind == .closed { return }
                }
            }
        }
        await close()
    }

    private func keepAlive(_ channel: any Channel) {
        let stale = state.withLock { state -> Bool in
            guard case .connected(let current) = state.status, current === channel else { return false }
            if state.pingsOutstanding >= options.maxPingsOutstanding {
                state.lastError = NATSError(
                    .timeout, "stale connection: \(state.pingsOutstanding) pings without an answer")
                return true
            }
            state.pingsOutstanding += 1
            NATSProtocolEncoder.writePing(into: &state.pending)
            state.pongWaiters.append(nil)
            state.pingsInPending += 1
            _ = scheduleFlushLocked(&state)
            return false
        }
        if stale {
            channel.close(promise: nil)
        } else {
            flushPending()
        }
    }

    // MARK: - Outbound buffer

    /// Appends a frame to the outbound buffer (checking the state and the bounds), and
    /// schedules a write on the event loop unless one is scheduled already.
    private func enqueue(
        frameBytes: Int, messageBytes: Int, _ write: (inout ByteBuffer) -> Void,
        whileLocked: (inout State) -> Void = { _ in }
    ) throws(NATSError) {
        let eventLoop = try state.withLock { state throws(NATSError) -> (any EventLoop)? in
            let bound: Int
            switch state.status {
            case .closed:
                throw NATSError(.closed, "connection closed")
            case .connecting, .connected:
                bound = options.maxPendingBytes
            case .reconnecting:
                bound = options.reconnectBufferBytes
            }
            if let maxPayload = state.serverInfo?.maxPayloadBytes, messageBytes > maxPayload {
                throw NATSError(
                    .payloadTooLarge, "message of \(messageBytes) bytes exceeds the server's max_payload \(maxPayload)")
            }
            if state.pending.readableBytes + frameBytes > bound {
                throw NATSError(
                    .bufferFull, "\(state.pending.readableBytes) bytes wait to be sent, the bound is \(bound)")
            }
            write(&state.pending)
            whileLocked(&state)
            return scheduleFlushLocked(&state)
        }
        eventLoop?.execute { [self] in flushPending() }
    }

    /// The event loop to run `flushPending` on, when one must be scheduled.
    private func scheduleFlushLocked(_ state: inout State) -> (any EventLoop)? {
        guard !state.flushScheduled, case .connected(let channel) = state.status else { return nil }
        state.flushScheduled = true
        return channel.eventLoop
    }

    /// Hands the whole outbound buffer to the channel in one write (on the event loop).
    private func flushPending() {
        let write = state.withLock { state -> (any Channel, ByteBuffer)? in
            state.flushScheduled = false
            guard case .connected(let channel) = state.status, channel.isWritable,
                state.pending.readableBytes > 0
            else { return nil }
            state.pingsInPending = 0
            let buffer = state.pending
            state.pending = channel.allocator.buffer(capacity: min(buffer.readableBytes, 1 << 20))
            return (channel, buffer)
        }
        if let (channel, buffer) = write {
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    private func finishRequest(_ token: UInt64, with result: Result<NATSMessage, any Error>) {
        let request = state.withLock { $0.requests.removeValue(forKey: token) }
        request?.timeout?.cancel()
        request?.continuation.resume(with: result)
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        let (nanoseconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow {
            return .nanoseconds(seconds < 0 ? 0 : .max)
        }
        return .nanoseconds(max(0, nanoseconds.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue))
    }
}
