/// The messages of one subscription, as an `AsyncSequence`.
///
/// Unsubscribes when ``unsubscribe()`` is called, when the last reference to it (or to an
/// iterator over it) goes away, or when the task iterating it is cancelled. Iterate it
/// from one task: it is a single stream, not a broadcast.
public final class NATSSubscription: AsyncSequence, Sendable {
    /// A delivered message.
    public typealias Element = NATSMessage
    /// Never thrown: the sequence ends instead.
    public typealias Failure = Never

    /// The subject subscribed to (wildcards included).
    public let subject: String
    /// The queue group, if any.
    public let queue: String?
    let sid: UInt64
    private let connection: NATSConnection
    private let stream: AsyncStream<NATSMessage>

    init(connection: NATSConnection, sid: UInt64, subject: String, queue: String?, stream: AsyncStream<NATSMessage>) {
        self.connection = connection
        self.sid = sid
        self.subject = subject
        self.queue = queue
        self.stream = stream
    }

    deinit {
        connection.unsubscribe(sid: sid)
    }

    /// Stops the subscription: sends `UNSUB`; iteration ends after the messages already
    /// buffered. Idempotent.
    public func unsubscribe() {
        connection.unsubscribe(sid: sid)
    }

    /// Messages dropped because the consumer fell more than
    /// ``NATSOptions/subscriptionBufferLimit`` messages behind.
    public var droppedMessageCount: Int { connection.droppedMessageCount(sid: sid) }

    /// An iterator over the messages; it keeps the subscription alive.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), subscription: self)
    }

    /// Iterates a subscription's messages.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<NATSMessage>.Iterator
        let subscription: NATSSubscription

        /// The next message, or `nil` once the subscription has ended.
        public mutating func next() async -> NATSMessage? {
            await base.next()
        }

        /// The next message, or `nil` once the subscription has ended.
        public mutating func next(isolation actor: isolated (any Actor)?) async -> NATSMessage? {
            await base.next(isolation: actor)
        }
    }
}
