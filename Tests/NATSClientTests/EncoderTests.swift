import NIOCore
import Testing

@testable import NATSClient

@Suite struct EncoderTests {
    private func bytes(_ write: (inout ByteBuffer) -> Void) -> String {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        write(&buffer)
        return String(buffer: buffer)
    }

    @Test func publishFrames() {
        #expect(
            bytes {
                NATSProtocolEncoder.writePublish(
                    subject: "a.b", replyTo: nil, headerBlock: nil, payload: Array("hi".utf8), into: &$0)
            } == "PUB a.b 2\r\nhi\r\n")
        #expect(
            bytes {
                NATSProtocolEncoder.writePublish(
                    subject: "a.b", replyTo: "_INBOX.x.1", headerBlock: nil, payload: [], into: &$0)
            } == "PUB a.b _INBOX.x.1 0\r\n\r\n")
        let headers = try! NATSHeaders([("Nats-Msg-Id", "42")])
        #expect(
            bytes {
                NATSProtocolEncoder.writePublish(
                    subject: "t.to.1", replyTo: "r", headerBlock: headers.encoded(), payload: Array("xyz".utf8),
                    into: &$0)
            } == "HPUB t.to.1 r 29 32\r\nNATS/1.0\r\nNats-Msg-Id: 42\r\n\r\nxyz\r\n")
    }

    @Test func otherFrames() {
        #expect(
            bytes { NATSProtocolEncoder.writeSubscribe(subject: "a.*", queue: nil, sid: 7, into: &$0) }
                == "SUB a.* 7\r\n")
        #expect(
            bytes { NATSProtocolEncoder.writeSubscribe(subject: "a.>", queue: "q", sid: 8, into: &$0) }
                == "SUB a.> q 8\r\n")
        #expect(bytes { NATSProtocolEncoder.writeUnsubscribe(sid: 8, into: &$0) } == "UNSUB 8\r\n")
        #expect(bytes { NATSProtocolEncoder.writeUnsubscribe(sid: 8, maxMessages: 1, into: &$0) } == "UNSUB 8 1\r\n")
        #expect(bytes { NATSProtocolEncoder.writePing(into: &$0) } == "PING\r\n")
        #expect(bytes { NATSProtocolEncoder.writePong(into: &$0) } == "PONG\r\n")
        #expect(bytes { NATSProtocolEncoder.writeConnect("{}", into: &$0) } == "CONNECT {}\r\n")
    }

    @Test(arguments: ["a", "a.b.c", "$JS.API.STREAM.INFO.x", "_INBOX.abc.1", "t.to.é"])
    func validSubjects(subject: String) throws {
        try NATSProtocolEncoder.validateSubject(subject, wildcards: false)
    }

    @Test(arguments: ["a.*", "a.>", "*", ">", "*.b.>"])
    func validWildcardSubjects(subject: String) throws {
        try NATSProtocolEncoder.validateSubject(subject, wildcards: true)
        let error = #expect(throws: NATSError.self) {
            try NATSProtocolEncoder.validateSubject(subject, wildcards: false)
        }
        #expect(error?.kind == .invalidSubject)
    }

    @Test(arguments: ["", "a b", "a..b", ".a", "a.", "a\tb", "a\r\nb", "a.>.b", "a.b*", "a.>x"])
    func invalidSubjects(subject: String) {
        let error = #expect(throws: NATSError.self) {
            try NATSProtocolEncoder.validateSubject(subject, wildcards: true)
        }
        #expect(error?.kind == .invalidSubject)
    }

    @Test func headerValidation() throws {
        var headers = NATSHeaders()
        try headers.append("A", "1")
        try headers.append("A", "2")
        try headers.set("B", "x y")
        #expect(headers.values(for: "A") == ["1", "2"])
        #expect(String(decoding: headers.encoded(), as: UTF8.self) == "NATS/1.0\r\nA: 1\r\nA: 2\r\nB: x y\r\n\r\n")
        for (name, value) in [("", "v"), ("A:B", "v"), ("A B", "v"), ("A", "x\r\ny"), ("A", " lead"), ("\u{E9}", "v")] {
            #expect(throws: NATSError.self, "\(name.debugDescription) \(value.debugDescription)") {
                try headers.append(name, value)
            }
        }
        let status = NATSHeaders(status: 408, statusDescription: "Request Timeout")
        #expect(String(decoding: status.encoded(), as: UTF8.self) == "NATS/1.0 408 Request Timeout\r\n\r\n")
    }

    @Test func serverURLs() throws {
        let plain = try NATSServerAddress(parsing: "nats://127.0.0.1:4223")
        #expect(plain == NATSServerAddress(host: "127.0.0.1", port: 4223, user: nil, password: nil, tls: false))
        let credentials = try NATSServerAddress(parsing: "nats://u%40x:p%3Aw@example.org")
        #expect(
            credentials == NATSServerAddress(host: "example.org", port: 4222, user: "u@x", password: "p:w", tls: false))
        #expect(try NATSServerAddress(parsing: "tls://[::1]:5000").host == "::1")
        #expect(try NATSServerAddress(parsing: "tls://[::1]:5000").tls)
        #expect(try NATSServerAddress(parsing: "localhost:1").port == 1)
        for bad in ["http://a:1", "nats://:4222", "nats://a:0", "nats://a:99999", "nats://a:x"] {
            #expect(throws: NATSError.self, "\(bad)") { try NATSServerAddress(parsing: bad) }
        }
    }

    @Test func serverInfoDefaults() throws {
        let info = try ServerInfo(
            json:
                #"{"server_id":"NABC","version":"2.9.10","proto":1,"headers":true,"max_payload":1048576,"jetstream":true,"client_id":5}"#
        )
        #expect(info.serverID == "NABC")
        #expect(info.maxPayloadBytes == 1_048_576)
        #expect(info.jetStream)
        #expect(!info.tlsRequired)
        #expect(info.clientID == 5)
        #expect(throws: NATSError.self) { try ServerInfo(json: "{not json") }
    }

    @Test func durationsToTimeAmounts() {
        #expect(NATSConnection.timeAmount(.milliseconds(250)) == .milliseconds(250))
        #expect(NATSConnection.timeAmount(.seconds(Int64.max)) == .nanoseconds(.max))
        #expect(NATSConnection.timeAmount(.seconds(-1)) == .nanoseconds(0))
    }
}
