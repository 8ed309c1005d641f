import Testing

@testable import NATSClient

@Suite struct FrameParserTests {
    static let sample: [UInt8] = Array(
        ("INFO {\"server_id\":\"S1\",\"max_payload\":1048576}\r\n"
            + "MSG foo.bar 9 5\r\nhello\r\n"
            + "MSG foo.bar 10 reply.to 0\r\n\r\n"
            + "HMSG a.b 11 23 28\r\nNATS/1.0\r\nX-Key: v1\r\n\r\nhello\r\n"
            + "HMSG a.b 12 r.s 28 28\r\nNATS/1.0 404 No Messages\r\n\r\n\r\n"
            + "PING\r\nPONG\r\n+OK\r\n-ERR 'Authorization Violation'\r\n").utf8)

    static let sampleFrames: [NATSFrame] = [
        .info("{\"server_id\":\"S1\",\"max_payload\":1048576}"),
        .message(sid: 9, NATSMessage(subject: "foo.bar", payload: Array("hello".utf8))),
        .message(sid: 10, NATSMessage(subject: "foo.bar", replyTo: "reply.to", payload: [])),
        .message(
            sid: 11,
            NATSMessage(subject: "a.b", headers: try! NATSHeaders([("X-Key", "v1")]), payload: Array("hello".utf8))),
        .message(
            sid: 12,
            NATSMessage(
                subject: "a.b", replyTo: "r.s", headers: NATSHeaders(status: 404, statusDescription: "No Messages"),
                payload: [])),
        .ping, .pong, .ok, .error("Authorization Violation"),
    ]

    @Test func everyFrameType() throws {
        #expect(try NATSFrameParser.frames(of: Self.sample) == Self.sampleFrames)
    }

    @Test func splitAtEveryByteBoundary() throws {
        for split in 0...Self.sample.count {
            var parser = NATSFrameParser()
            var frames: [NATSFrame] = []
            parser.append(Self.sample[..<split])
            while let frame = try parser.next() { frames.append(frame) }
            parser.append(Self.sample[split...])
            while let frame = try parser.next() { frames.append(frame) }
            #expect(frames == Self.sampleFrames, "split at \(split)")
            #expect(parser.bufferedByteCount == 0)
        }
    }

    @Test func oneByteAtATime() throws {
        var parser = NATSFrameParser()
        var frames: [NATSFrame] = []
        for byte in Self.sample {
            parser.append([byte])
            while let frame = try parser.next() { frames.append(frame) }
        }
        #expect(frames == Self.sampleFrames)
    }

    @Test func lowercaseOperationsBareLineFeedsAndExtraBlanks() throws {
        let frames = try NATSFrameParser.frames(of: Array("ping\npong \r\nmsg  a\t1   3\r\nabc\r\n+ok\r\n".utf8))
        #expect(frames == [.ping, .pong, .message(sid: 1, NATSMessage(subject: "a", payload: Array("abc".utf8))), .ok])
    }

    @Test func incompleteFrameWaitsForMoreBytes() throws {
        var parser = NATSFrameParser()
        parser.append(Array("MSG a 1 10\r\n12345".utf8))
        #expect(try parser.next() == nil)
        parser.append(Array("67890\r".utf8))
        #expect(try parser.next() == nil)
        parser.append([0x0A])
        #expect(try parser.next() == .message(sid: 1, NATSMessage(subject: "a", payload: Array("1234567890".utf8))))
    }

    @Test(
        arguments: [
            ("NATS/1.0 404 No Messages", 404, "No Messages"),
            ("NATS/1.0 408 Request Timeout", 408, "Request Timeout"),
            ("NATS/1.0 409 Consumer Deleted", 409, "Consumer Deleted"),
            ("NATS/1.0 100 Idle Heartbeat", 100, "Idle Heartbeat"),
            ("NATS/1.0 503", 503, nil),
        ] as [(String, Int, String?)])
    func statusOnlyMessages(line: String, status: Int, description: String?) throws {
        let block = "\(line)\r\n\r\n"
        let bytes = Array("HMSG _INBOX.x 3 \(block.utf8.count) \(block.utf8.count)\r\n\(block)\r\n".utf8)
        let frames = try NATSFrameParser.frames(of: bytes)
        guard case .message(3, let message) = try #require(frames.first) else {
            Issue.record("not a message: \(frames)")
            return
        }
        #expect(message.status == status)
        #expect(message.headers?.statusDescription == description)
        #expect(message.isStatusOnly)
        #expect(message.payload.isEmpty)
    }

    @Test func headersWithStatusAndEntries() throws {
        let block = "NATS/1.0 409 Exceeded MaxWaiting\r\nNats-Pending-Messages: 3\r\nA: 1\r\nA:2\r\n\r\n"
        let headers = try NATSHeaders.parse(Array(block.utf8))
        #expect(headers.status == 409)
        #expect(headers.statusDescription == "Exceeded MaxWaiting")
        #expect(headers["Nats-Pending-Messages"] == "3")
        #expect(headers.values(for: "A") == ["1", "2"])
        #expect(try NATSHeaders.parse(headers.encoded()) == headers)
    }

    @Test(arguments: [
        ("BOGUS\r\n", "unknown operation"),
        ("\r\n", "empty control line"),
        ("MSG a\r\n", "MSG with 1 arguments"),
        ("MSG a 1 2 3 4\r\n", "MSG with 5 arguments"),
        ("HMSG a 1 2\r\n", "HMSG with 3 arguments"),
        ("MSG a 1 x\r\n", "not a decimal number"),
        ("MSG a 1 -1\r\n", "not a decimal number"),
        ("MSG a 1 67108865\r\n", "exceeds 67108864"),
        ("MSG a 1 99999999999999999999999999999\r\n", "exceeds 67108864"),
        ("MSG a 18446744073709551616 1\r\n", "exceeds UInt64"),
        ("MSG a b 1\r\n", "subscription id"),
        ("MSG a 1 3\r\nabcde\r\n", "not followed by CRLF"),
        ("HMSG a 1 5 4\r\n", "exceeds total size"),
        ("PING x\r\n", "with arguments"),
        ("INFO\r\n", "INFO without"),
        ("MSG \u{FF} 1 0\r\n\r\n", "not UTF-8"),
    ])
    func malformedInputIsATypedError(input: String, expected: String) throws {
        var bytes = Array(input.utf8)
        if input.contains("\u{FF}") {
            bytes = Array("MSG ".utf8) + [0xFF, 0xFE] + Array(" 1 0\r\n\r\n".utf8)
        }
        var parser = NATSFrameParser()
        parser.append(bytes)
        let error = try #require(throws: NATSError.self) {
            while try parser.next() != nil {}
        }
        #expect(error.kind == .protocolViolation)
        #expect(error.message.contains(expected), "\(error.message)")
        // The parser stays failed with the same error.
        #expect(throws: error) { try parser.next() }
    }

    @Test(arguments: [
        ("ab\r\n\r\n", "does not start with NATS/1.0"),
        ("NATS/1.0\r\nA\r\n\r\n", "header line without ':'"),
        ("NATS/1.0 40x\r\n\r\n", "three digits"),
        ("NATS/1.0 4040\r\n\r\n", "three digits"),
        // Found by the nats fuzzer: "044" parsed as 44, which re-encoded as "NATS/1.0 44".
        ("NATS/1.0 044 No Messages\r\n\r\n", "from 100 to 999"),
        ("NATS/1.0x\r\n\r\n", "no blank"),
        ("NATS/1.0\r\nxx: 1\r\n", "does not end with an empty line"),
        ("NATS/1.0\r\n\r\nxy", "bytes after the header block"),
        ("NATS/1.0\r\n: x\r\n\r\n", "empty header name"),
        ("NATS/1.0\r\nA B: x\r\n\r\n", "holds byte 32"),
        ("NATS/1.0\r\nA: x\ry\r\n\r\n", "CR or LF"),
        ("NATS/1.0", "no line ending"),
    ])
    func malformedHeaderBlockIsATypedError(block: String, expected: String) throws {
        let size = block.utf8.count
        let bytes = Array("HMSG a 1 \(size) \(size + 2)\r\n\(block)ok\r\n".utf8)
        let error = try #require(throws: NATSError.self) { try NATSFrameParser.frames(of: bytes) }
        #expect(error.kind == .protocolViolation)
        #expect(error.message.contains(expected), "\(error.message)")
    }

    @Test func controlLineBoundIsCheckedBeforeTheLineEnds() throws {
        var parser = NATSFrameParser(maxControlLineBytes: 32)
        parser.append(Array(repeating: UInt8(ascii: "A"), count: 32))
        #expect(try parser.next() == nil)
        parser.append([UInt8(ascii: "A")])
        #expect(throws: NATSError.self) { try parser.next() }
    }

    @Test func compactionKeepsFramesAcrossLargeInputs() throws {
        var parser = NATSFrameParser()
        let payload = [UInt8](repeating: 7, count: 40_000)
        let frame = NATSFrame.message(sid: 1, NATSMessage(subject: "big", payload: payload)).encoded()
        var count = 0
        for _ in 0..<10 {
            parser.append(frame.prefix(50_000))
            while try parser.next() != nil { count += 1 }
            parser.append(frame.dropFirst(50_000))
            while let next = try parser.next() {
                #expect(next == .message(sid: 1, NATSMessage(subject: "big", payload: payload)))
                count += 1
            }
        }
        #expect(count == 10)
        #expect(parser.bufferedByteCount == 0)
    }

    /// Random frame sequences, encoded, split at random points: the frames come back. The
    /// seed is printed on failure.
    @Test(arguments: 1...40 as ClosedRange<UInt64>)
    func randomSplitsGiveTheSameFrames(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var frames: [NATSFrame] = []
        for _ in 0..<Int(random.next() % 20 + 1) {
            frames.append(randomFrame(&random))
        }
        let bytes = frames.flatMap { $0.encoded() }
        var parser = NATSFrameParser()
        var parsed: [NATSFrame] = []
        var offset = 0
        while offset < bytes.count {
            let length = Int(random.next() % UInt64(min(bytes.count - offset, 64))) + 1
            parser.append(bytes[offset..<(offset + length)])
            offset += length
            while let frame = try parser.next() { parsed.append(frame) }
        }
        #expect(parsed == frames, "seed \(seed): reproduce with randomSplitsGiveTheSameFrames(seed: \(seed))")
        #expect(NATSParserCheck.check(bytes) == nil, "seed \(seed)")
    }

    private func randomFrame(_ random: inout SplitMix64) -> NATSFrame {
        func token() -> String {
            let alphabet = Array("abcXYZ019_-$>*")
            return String((0..<Int(random.next() % 6 + 1)).map { _ in alphabet[Int(random.next() % 14)] })
        }
        func subject() -> String { (0..<Int(random.next() % 3 + 1)).map { _ in token() }.joined(separator: ".") }
        let payload = (0..<Int(random.next() % 40)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        switch random.next() % 7 {
        case 0: return .ping
        case 1: return .pong
        case 2: return .ok
        case 3: return .error("Reason \(token())")
        case 4: return .info("{\"server_id\":\"\(token())\"}")
        case 5:
            return .message(
                sid: random.next() % 1000, NATSMessage(subject: subject(), replyTo: nil, payload: payload))
        default:
            var headers = NATSHeaders()
            if random.next() % 2 == 0 {
                headers.status = [100, 404, 408, 409, 503][Int(random.next() % 5)]
                headers.statusDescription = random.next() % 2 == 0 ? nil : "Some \(token())"
            }
            for _ in 0..<Int(random.next() % 3) {
                try! headers.append("H-\(token())", "v \(token())")
            }
            return .message(
                sid: random.next(),
                NATSMessage(
                    subject: subject(), replyTo: random.next() % 2 == 0 ? nil : subject(), headers: headers,
                    payload: payload))
        }
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same cases.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
