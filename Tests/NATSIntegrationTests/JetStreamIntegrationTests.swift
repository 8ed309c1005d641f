import Foundation
import NATSClient
import Testing

/// JetStream against a real `nats-server -js` (each test starts its own).
extension NATSIntegrationTests {
    @Suite(.serialized) struct JetStream {
        private func workQueue(_ jetStream: JetStreamContext) async throws -> StreamConfig {
            var config = StreamConfig(name: "TASKS", subjects: ["t.to.*"])
            config.retention = .workQueue
            let info = try await jetStream.createStream(config)
            #expect(info.config == config)
            return config
        }

        @Test func createStreamIsIdempotentAndRefusesAnotherConfiguration() async throws {
            let server = try NATSServerProcess()
            let connection = try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            let jetStream = JetStreamContext(connection)
            var config = try await workQueue(jetStream)
            let again = try await jetStream.createStream(config)
            #expect(again.config == config)
            config.subjects = ["other.*"]
            let mismatch = try await #require(throws: NATSError.self) { try await jetStream.createStream(config) }
            #expect(mismatch.kind == .streamConfigurationMismatch, "\(mismatch)")
            let missing = try await #require(throws: NATSError.self) { try await jetStream.streamInfo("NOPE") }
            guard case .jetStream(404, _, _) = missing.kind else {
                Issue.record("expected a 404 JetStream error, got \(missing)")
                return
            }
            try await jetStream.deleteStream("TASKS")
            await #expect(throws: NATSError.self) { try await jetStream.streamInfo("TASKS") }
            await connection.close()
        }

        @Test func workQueueWithFilteredDurablePullConsumers() async throws {
            let server = try NATSServerProcess()
            let connection = try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            let jetStream = JetStreamContext(connection)
            _ = try await workQueue(jetStream)
            var configA = ConsumerConfig(durableName: "worker-a", filterSubject: "t.to.a")
            configA.ackWait = .seconds(30)
            configA.maxAckPending = 100
            let consumerA = try await jetStream.createDurableConsumer(stream: "TASKS", configA)
            #expect(consumerA.config.filterSubject == "t.to.a")
            #expect(consumerA.config.ackWait == .seconds(30))
            _ = try await jetStream.createDurableConsumer(
                stream: "TASKS", ConsumerConfig(durableName: "worker-b", filterSubject: "t.to.b"))

            let first = try await jetStream.publish(
                "t.to.a", payload: Array("job-1".utf8), messageID: "job-1", timeout: .seconds(2), attempts: 3)
            let repeated = try await jetStream.publish(
                "t.to.a", payload: Array("job-1".utf8), messageID: "job-1", timeout: .seconds(2), attempts: 3)
            #expect(!first.duplicate)
            #expect(repeated.duplicate)
            #expect(repeated.sequence == first.sequence)
            #expect(first.stream == "TASKS")
            for index in 2...4 {
                _ = try await jetStream.publish(
                    "t.to.a", payload: Array("job-\(index)".utf8), messageID: "job-\(index)", timeout: .seconds(2))
            }
            _ = try await jetStream.publish("t.to.b", payload: Array("b-1".utf8), timeout: .seconds(2))
            #expect(try await jetStream.streamInfo("TASKS").state.messages == 5)

            // Fewer messages than the batch: the pull ends with 408 after `expires`.
            let started = ContinuousClock.now
            let batch = try await jetStream.fetch(stream: "TASKS", durable: "worker-a", batch: 10, expires: .seconds(1))
            #expect(ContinuousClock.now - started < .seconds(4))
            #expect(batch.map { String(decoding: $0.payload, as: UTF8.self) } == ["job-1", "job-2", "job-3", "job-4"])
            #expect(batch.allSatisfy { $0.message.subject == "t.to.a" && $0.message.status == nil })
            #expect(batch.map(\.metadata.streamSequence) == [1, 2, 3, 4])
            #expect(batch.allSatisfy { $0.metadata.deliveryCount == 1 && $0.metadata.stream == "TASKS" })
            #expect(batch.last?.metadata.pending == 0)

            // Acknowledged messages leave the work queue; the other consumer's stays.
            for message in batch.prefix(3) {
                try await message.acknowledge(timeout: .seconds(2))
            }
            try batch[3].ack()
            try await connection.flush()
            #expect(await eventually(3) { (try? await jetStream.streamInfo("TASKS").state.messages) == 1 })

            // Nothing left: no_wait answers 404 at once.
            let empty = try await jetStream.fetch(
                stream: "TASKS", durable: "worker-a", batch: 5, expires: .seconds(5), noWait: true)
            #expect(empty.isEmpty)
            // The batch limit: one of one.
            let other = try await jetStream.fetch(stream: "TASKS", durable: "worker-b", batch: 1, expires: .seconds(2))
            #expect(other.map(\.message.subject) == ["t.to.b"])
            try await other[0].acknowledge(timeout: .seconds(2))
            #expect(try await jetStream.streamInfo("TASKS").state.messages == 0)
            await connection.close()
        }

        @Test func unacknowledgedMessageIsRedeliveredAfterAckWait() async throws {
            let server = try NATSServerProcess()
            let connection = try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            let jetStream = JetStreamContext(connection)
            _ = try await workQueue(jetStream)
            var config = ConsumerConfig(durableName: "slow", filterSubject: "t.to.x")
            config.ackWait = .seconds(1)
            _ = try await jetStream.createDurableConsumer(stream: "TASKS", config)
            _ = try await jetStream.publish(
                "t.to.x", payload: Array("once".utf8), messageID: "x1", timeout: .seconds(2))

            let first = try await jetStream.fetch(stream: "TASKS", durable: "slow", batch: 1, expires: .seconds(2))
            #expect(first.count == 1)
            #expect(first.first?.metadata.deliveryCount == 1)
            // Not acknowledged: nothing more within ack_wait, then the same message again.
            let during = try await jetStream.fetch(
                stream: "TASKS", durable: "slow", batch: 1, expires: .milliseconds(300), noWait: true)
            #expect(during.isEmpty)
            let again = try await jetStream.fetch(stream: "TASKS", durable: "slow", batch: 1, expires: .seconds(3))
            #expect(again.count == 1)
            #expect(again.first?.metadata.streamSequence == first.first?.metadata.streamSequence)
            #expect(again.first?.metadata.deliveryCount == 2)
            #expect(again.first?.payload == Array("once".utf8))
            try await again[0].acknowledge(timeout: .seconds(2))
            #expect(try await jetStream.streamInfo("TASKS").state.messages == 0)
            await connection.close()
        }

        @Test func nakRedeliversAtOnce() async throws {
            let server = try NATSServerProcess()
            let connection = try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            let jetStream = JetStreamContext(connection)
            _ = try await workQueue(jetStream)
            _ = try await jetStream.createDurableConsumer(stream: "TASKS", ConsumerConfig(durableName: "n"))
            _ = try await jetStream.publish("t.to.n", payload: [1], timeout: .seconds(2))
            let first = try await jetStream.fetch(stream: "TASKS", durable: "n", batch: 1, expires: .seconds(2))
            try first[0].nak()
            let again = try await jetStream.fetch(stream: "TASKS", durable: "n", batch: 1, expires: .seconds(2))
            #expect(again.first?.metadata.deliveryCount == 2)
            try await again[0].acknowledge(timeout: .seconds(2))
            await connection.close()
        }

        @Test func deletedConsumerEndsAWaitingFetchWithATypedError() async throws {
            let server = try NATSServerProcess()
            let connection = try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            let jetStream = JetStreamContext(connection)
            _ = try await workQueue(jetStream)
            _ = try await jetStream.createDurableConsumer(stream: "TASKS", ConsumerConfig(durableName: "gone"))
            let fetch = Task {
                try await jetStream.fetch(stream: "TASKS", durable: "gone", batch: 5, expires: .seconds(10))
            }
            try await Task.sleep(for: .milliseconds(500))
            try await jetStream.deleteConsumer(stream: "TASKS", "gone")
            let error = try await #require(throws: NATSError.self) { try await fetch.value }
            #expect(error.kind == .jetStream(code: 409, errCode: 0, description: "Consumer Deleted"), "\(error)")
            await connection.close()
        }

        @Test func fetchFromAMissingConsumerIsAnError() async throws {
            let server = try NATSServerProcess()
            let connection = try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            let jetStream = JetStreamContext(connection, timeout: .seconds(1))
            _ = try await workQueue(jetStream)
            let error = try await #require(throws: NATSError.self) {
                try await jetStream.fetch(stream: "TASKS", durable: "never", batch: 1, expires: .milliseconds(200))
            }
            #expect(error.kind == .timeout, "\(error)")
            await #expect(throws: NATSError.self) {
                try await jetStream.fetch(stream: "TASKS", durable: "never", batch: 0, expires: .seconds(1))
            }
            await connection.close()
        }
    }
}
