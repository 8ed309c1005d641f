import Foundation
import NATSClient
import Testing

/// Core NATS against a real `nats-server` (each test starts its own).
extension NATSIntegrationTests {
    @Suite(.serialized) struct Core {
        @Test func publishSubscribeRoundTrip() async throws {
            let server = try NATSServerProcess()
            var options = NATSOptions(servers: [server.url])
            options.name = "round-trip"
            let connection = try await NATSConnection.connect(options)
            #expect(connection.serverInfo.jetStream)
            #expect(connection.serverInfo.maxPayloadBytes == 1_048_576)
            let subscription = try connection.subscribe("greet.*")
            try await connection.flush()
            for index in 0..<3 {
                try connection.publish("greet.\(index)", payload: Array("hello \(index)".utf8))
            }
            var iterator = subscription.makeAsyncIterator()
            for index in 0..<3 {
                let message = try #require(await iterator.next())
                #expect(message.subject == "greet.\(index)")
                #expect(message.payload == Array("hello \(index)".utf8))
                #expect(message.headers == nil)
            }
            subscription.unsubscribe()
            #expect(await iterator.next() == nil)
            await connection.close()
            #expect(connection.status == .closed)
            #expect(throws: NATSError.self) { try connection.publish("greet.x", payload: []) }
        }

        @Test func requestReplyNoRespondersAndTimeout() async throws {
            let server = try NATSServerProcess()
            let connection = try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            let service = try connection.subscribe("svc.reverse")
            let silent = try connection.subscribe("svc.silent")
            try await connection.flush()
            let responder = Task {
                for await request in service {
                    try connection.publish(request.replyTo!, payload: request.payload.reversed())
                }
            }
            for word in ["abc", "hello", ""] {
                let reply = try await connection.request("svc.reverse", payload: Array(word.utf8), timeout: .seconds(2))
                #expect(reply.payload == Array(word.utf8.reversed()))
            }
            let noResponders = try await #require(throws: NATSError.self) {
                _ = try await connection.request("svc.nobody", payload: [], timeout: .seconds(2))
            }
            #expect(noResponders.kind == .noResponders)
            let started = ContinuousClock.now
            let timeout = try await #require(throws: NATSError.self) {
                _ = try await connection.request("svc.silent", payload: [], timeout: .milliseconds(300))
            }
            #expect(timeout.kind == .timeout)
            #expect(ContinuousClock.now - started < .seconds(2))
            _ = silent
            responder.cancel()
            await connection.close()
        }

        @Test func headersRoundTrip() async throws {
            let server = try NATSServerProcess()
            let connection = try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            let subscription = try connection.subscribe("h.>")
            try await connection.flush()
            let headers = try NATSHeaders([
                ("X-One", "1"), ("X-Multi", "a"), ("X-Multi", "b c"), ("Nats-Msg-Id", "id-7"),
            ])
            try connection.publish("h.test", replyTo: "h.reply", headers: headers, payload: Array("body".utf8))
            try connection.publish("h.empty", headers: NATSHeaders(), payload: [])
            let message = try #require(await nextMessage(subscription))
            #expect(message.headers == headers)
            #expect(message.headers?.values(for: "X-Multi") == ["a", "b c"])
            #expect(message.replyTo == "h.reply")
            #expect(message.payload == Array("body".utf8))
            #expect(message.status == nil)
            let empty = try #require(await nextMessage(subscription))
            #expect(empty.subject == "h.empty")
            #expect(empty.headers == NATSHeaders())
            await connection.close()
        }

        @Test func payloadOverMaxPayloadIsRefusedBeforeSending() async throws {
            let server = try NATSServerProcess()
            let connection = try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            let maximum = connection.serverInfo.maxPayloadBytes
            let subscription = try connection.subscribe("big")
            try await connection.flush()
            let error = try #require(throws: NATSError.self) {
                try connection.publish("big", payload: [UInt8](repeating: 1, count: maximum + 1))
            }
            #expect(error.kind == .payloadTooLarge)
            let headers = try NATSHeaders([("A", "b")])
            #expect(throws: NATSError.self) {
                try connection.publish("big", headers: headers, payload: [UInt8](repeating: 1, count: maximum))
            }
            // Exactly max_payload passes, and the connection is still good.
            try connection.publish("big", payload: [UInt8](repeating: 2, count: maximum))
            let message = try #require(await nextMessage(subscription))
            #expect(message.payload.count == maximum)
            #expect(connection.status == .connected)
            await connection.close()
        }

        @Test func invalidSubjectsAreTypedErrors() async throws {
            let server = try NATSServerProcess()
            let connection = try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            for subject in ["", "a b", "a..b", "a.*"] {
                let error = #expect(throws: NATSError.self) { try connection.publish(subject, payload: []) }
                #expect(error?.kind == .invalidSubject)
            }
            #expect(throws: NATSError.self) { try connection.subscribe("a b") }
            try await connection.flush()
            await connection.close()
        }

        @Test func userPasswordAuthorization() async throws {
            let server = try NATSServerProcess(arguments: ["--user", "u", "--pass", "p"])
            var options = NATSOptions(servers: [server.url])
            options.user = "u"
            options.password = "p"
            let good = try await NATSConnection.connect(options)
            try await good.flush()
            await good.close()
            let fromURL = try await NATSConnection.connect(
                NATSOptions(servers: ["nats://u:p@127.0.0.1:\(server.port)"]))
            try await fromURL.flush()
            await fromURL.close()
            options.password = "wrong"
            let refused = try await #require(throws: NATSError.self) { try await NATSConnection.connect(options) }
            #expect(refused.kind == .authorization, "\(refused)")
            let anonymous = try await #require(throws: NATSError.self) {
                try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            }
            #expect(anonymous.kind == .authorization, "\(anonymous)")
        }

        @Test func connectionRefusedWhenNothingListens() async throws {
            let port = try NATSServerProcess.freePort()
            var options = NATSOptions(servers: ["nats://127.0.0.1:\(port)"])
            options.connectTimeout = .seconds(2)
            let error = try await #require(throws: NATSError.self) { try await NATSConnection.connect(options) }
            #expect(error.kind == .connectionRefused)
        }

        @Test func connectTriesTheNextServer() async throws {
            let server = try NATSServerProcess()
            let deadPort = try NATSServerProcess.freePort()
            let connection = try await NATSConnection.connect(
                NATSOptions(servers: ["nats://127.0.0.1:\(deadPort)", server.url]))
            try await connection.flush()
            #expect(connection.status == .connected)
            await connection.close()
        }

        @Test func answersServerPingsAndStaysConnected() async throws {
            let server = try NATSServerProcess(
                configuration: """
                    ping_interval: "100ms"
                    ping_max: 2
                    """)
            let connection = try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            try await Task.sleep(for: .seconds(1))
            try await connection.flush()
            #expect(connection.status == .connected)
            #expect(connection.reconnectCount == 0)
            await connection.close()
        }

        /// A stopped server (SIGSTOP) answers no PING: after `maxPingsOutstanding` unanswered
        /// pings the connection is stale and replaced once the server runs again.
        @Test func staleConnectionIsDetectedByPingsAndReplaced() async throws {
            let server = try NATSServerProcess()
            var options = NATSOptions(servers: [server.url])
            options.pingInterval = .milliseconds(100)
            options.maxPingsOutstanding = 2
            options.reconnectWait = .milliseconds(100)
            options.connectTimeout = .milliseconds(500)
            let connection = try await NATSConnection.connect(options)
            let subscription = try connection.subscribe("stale.>")
            try await connection.flush()
            let pid = try #require(server.process?.processIdentifier)
            _ = kill(pid, SIGSTOP)
            let detected = await eventually(5) { connection.status == .reconnecting }
            _ = kill(pid, SIGCONT)
            #expect(detected)
            #expect(connection.lastError != nil)
            #expect(await eventually(10) { connection.status == .connected && connection.reconnectCount >= 1 })
            try connection.publish("stale.back", payload: [1])
            let message = try #require(await nextMessage(subscription))
            #expect(message.subject == "stale.back")
            await connection.close()
        }

        @Test func reconnectsAfterKillResubscribesAndSendsBufferedPublishes() async throws {
            let server = try NATSServerProcess()
            var options = NATSOptions(servers: [server.url])
            options.reconnectWait = .milliseconds(100)
            let connection = try await NATSConnection.connect(options)
            let jetStream = JetStreamContext(connection)
            var config = StreamConfig(name: "PERSIST", subjects: ["p.>"])
            config.storage = .file
            _ = try await jetStream.createStream(config)
            for index in 1...3 {
                let ack = try await jetStream.publish(
                    "p.x", payload: [UInt8(index)], messageID: "m\(index)", timeout: .seconds(2), attempts: 3)
                #expect(ack.sequence == UInt64(index))
            }
            let subscription = try connection.subscribe("r.>")
            try await connection.flush()

            server.kill()
            #expect(await eventually(5) { connection.status == .reconnecting })
            try connection.publish("r.buffered", payload: Array("while down".utf8))
            try server.start()
            #expect(await eventually(10) { connection.status == .connected })
            #expect(connection.reconnectCount == 1)

            let buffered = try #require(await nextMessage(subscription))
            #expect(buffered.subject == "r.buffered")
            try connection.publish("r.after", payload: Array("after".utf8))
            let after = try #require(await nextMessage(subscription))
            #expect(after.subject == "r.after")

            // JetStream comes back with its data (it may take a moment to recover the stream).
            var info: StreamInfo?
            _ = try await eventually(10) {
                do {
                    info = try await jetStream.streamInfo("PERSIST")
                    return true
                } catch let error as NATSError where error.kind == .noResponders || error.kind == .timeout {
                    return false
                }
            }
            #expect(info?.state.messages == 3)
            #expect(info?.state.lastSequence == 3)
            let duplicate = try await jetStream.publish(
                "p.x", payload: [3], messageID: "m3", timeout: .seconds(2), attempts: 3)
            #expect(duplicate.duplicate)
            await connection.close()
        }

        @Test func publishesWhileDisconnectedAreBoundedWithATypedError() async throws {
            let server = try NATSServerProcess()
            var options = NATSOptions(servers: [server.url])
            options.reconnectWait = .seconds(30)
            options.reconnectBufferBytes = 4096
            let connection = try await NATSConnection.connect(options)
            server.kill()
            #expect(await eventually(5) { connection.status == .reconnecting })
            var sent = 0
            let error = try #require(throws: NATSError.self) {
                while true {
                    try connection.publish("x", payload: [UInt8](repeating: 0, count: 512))
                    sent += 1
                }
            }
            #expect(error.kind == .bufferFull)
            #expect(sent >= 6 && sent <= 8)
            await connection.close()
        }

        /// Throughput of pipelined 512-byte publishes with one subscriber receiving them all.
        @Test func pipelinedPublishThroughput() async throws {
            let server = try NATSServerProcess()
            let connection = try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            let receiver = try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            let subscription = try receiver.subscribe("perf")
            try await receiver.flush()
            let count = 50_000
            let received = Task {
                var seen = 0
                for await _ in subscription {
                    seen += 1
                    if seen == count { break }
                }
                return seen
            }
            let payload = [UInt8](repeating: 0x61, count: 512)
            let started = ContinuousClock.now
            for index in 0..<count {
                try connection.publish("perf", payload: payload)
                if index % 5_000 == 4_999 {
                    try await connection.flush()
                }
            }
            try await connection.flush()
            let published = ContinuousClock.now - started
            #expect(await received.value == count)
            let total = ContinuousClock.now - started
            let seconds = { (duration: Duration) in
                Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            }
            print(
                "NATS throughput: \(count) x 512 B published in \(seconds(published)) s "
                    + "(\(Int(Double(count) / seconds(published))) msgs/s), all received in \(seconds(total)) s "
                    + "(\(Int(Double(count) / seconds(total))) msgs/s)")
            #expect(Double(count) / seconds(total) > 5_000)
            #expect(subscription.droppedMessageCount == 0)
            await connection.close()
            await receiver.close()
        }
    }
}
