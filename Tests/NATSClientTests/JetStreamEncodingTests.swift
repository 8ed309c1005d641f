import Foundation
import Testing

@testable import NATSClient

@Suite struct JetStreamEncodingTests {
    private func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    @Test func streamConfigUsesThe29FieldNamesAndNanoseconds() throws {
        var config = StreamConfig(name: "TASKS", subjects: ["t.to.*"])
        config.retention = .workQueue
        config.storage = .memory
        config.replicas = 3
        config.maxMessages = 10
        config.maxBytes = 2048
        config.maxMessagesPerSubject = 5
        config.maxMessageSize = 512
        config.maxAge = .seconds(60)
        config.discard = .new
        config.duplicateWindow = .milliseconds(1500)
        #expect(
            try json(config)
                == #"{"discard":"new","duplicate_window":1500000000,"max_age":60000000000,"max_bytes":2048,"max_consumers":-1,"max_msg_size":512,"max_msgs":10,"max_msgs_per_subject":5,"name":"TASKS","num_replicas":3,"retention":"workqueue","storage":"memory","subjects":["t.to.*"]}"#
        )
        let decoded = try JSONDecoder().decode(StreamConfig.self, from: Data(try json(config).utf8))
        #expect(decoded == config)
    }

    @Test func consumerConfigUsesFilterSubjectSingular() throws {
        var config = ConsumerConfig(durableName: "worker", filterSubject: "t.to.a")
        config.ackWait = .seconds(2)
        config.maxAckPending = 64
        config.deliverPolicy = .byStartSequence(17)
        let text = try json(config)
        #expect(
            text
                == #"{"ack_policy":"explicit","ack_wait":2000000000,"deliver_policy":"by_start_sequence","durable_name":"worker","filter_subject":"t.to.a","max_ack_pending":64,"max_deliver":-1,"max_waiting":512,"opt_start_seq":17,"replay_policy":"instant"}"#
        )
        #expect(!text.contains("filter_subjects"))
        #expect(try JSONDecoder().decode(ConsumerConfig.self, from: Data(text.utf8)) == config)
    }

    @Test func serverStreamInfoDecodes() throws {
        let reply = NATSMessage(
            subject: "_INBOX.x.1",
            payload: Array(
                #"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"T","subjects":["t.to.*"],"retention":"workqueue","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"allow_direct":false,"mirror_direct":false},"created":"2026-12-01T10:00:00Z","state":{"messages":2,"bytes":90,"first_seq":1,"first_ts":"2026-12-01T10:00:00Z","last_seq":2,"last_ts":"2026-12-01T10:00:00Z","consumer_count":1},"did_create":true}"#
                    .utf8))
        let info = try JetStreamContext.decodeReply(StreamInfo.self, reply, what: "test")
        var expected = StreamConfig(name: "T", subjects: ["t.to.*"])
        expected.retention = .workQueue
        #expect(info.config == expected)
        #expect(info.state.messages == 2)
        #expect(info.state.lastSequence == 2)
        #expect(info.state.consumerCount == 1)
    }

    @Test func apiErrorsAreTyped() throws {
        let reply = NATSMessage(
            subject: "_INBOX.x.1",
            payload: Array(
                #"{"type":"io.nats.jetstream.api.v1.stream_create_response","error":{"code":400,"err_code":10058,"description":"stream name already in use with a different configuration"}}"#
                    .utf8))
        let error = try #require(throws: NATSError.self) {
            try JetStreamContext.decodeReply(StreamInfo.self, reply, what: "create")
        }
        #expect(
            error.kind
                == .jetStream(
                    code: 400, errCode: 10058, description: "stream name already in use with a different configuration")
        )
        let garbage = NATSMessage(subject: "x", payload: Array("nope".utf8))
        #expect(throws: NATSError.self) { try JetStreamContext.decodeReply(PubAck.self, garbage, what: "x") }
    }

    @Test func pubAckDecodes() throws {
        let first = NATSMessage(subject: "x", payload: Array(#"{"stream":"T","seq":7}"#.utf8))
        #expect(try JetStreamContext.decodeReply(PubAck.self, first, what: "p").duplicate == false)
        let again = NATSMessage(subject: "x", payload: Array(#"{"stream":"T","seq":7,"duplicate":true}"#.utf8))
        let ack = try JetStreamContext.decodeReply(PubAck.self, again, what: "p")
        #expect(ack.sequence == 7 && ack.stream == "T" && ack.duplicate)
    }

    @Test func ackSubjectMetadata() throws {
        let old = try JetStreamMetadata(ackSubject: "$JS.ACK.TASKS.worker.2.17.5.1764583200000000000.3")
        #expect(old.stream == "TASKS")
        #expect(old.consumer == "worker")
        #expect(old.deliveryCount == 2)
        #expect(old.streamSequence == 17)
        #expect(old.consumerSequence == 5)
        #expect(old.timestampNanoseconds == 1_764_583_200_000_000_000)
        #expect(old.pending == 3)
        #expect(old.domain == nil)
        let new = try JetStreamMetadata(ackSubject: "$JS.ACK.hub.ACCHASH.S.C.1.2.3.4.5.token")
        #expect(new.domain == "hub")
        #expect(new.stream == "S" && new.consumer == "C" && new.streamSequence == 2 && new.pending == 5)
        #expect(try JetStreamMetadata(ackSubject: "$JS.ACK._.H.S.C.1.2.3.4.5.t").domain == nil)
        for bad in [
            "$JS.ACK.S.C.1.2.3.4", "$JS.ACK.S.C.x.2.3.4.5", "$JS.NAK.S.C.1.2.3.4.5", "_INBOX.a.b",
            "$JS.ACK.S.C.1.2.3.4.99999999999999999999", "$JS.ACK.S.C.-1.2.3.4.5", "$JS.ACK..C.1.2.3.4.5",
            "$JS.ACK.a.b.S.C.1.2.3.4",
        ] {
            let error = #expect(throws: NATSError.self, "\(bad)") { try JetStreamMetadata(ackSubject: bad) }
            #expect(error?.kind == .protocolViolation)
        }
    }

    @Test func transientConflicts() {
        #expect(JetStreamContext.isTransientConflict("Leadership Change"))
        #expect(JetStreamContext.isTransientConflict("Message Size Exceeds MaxBytes"))
        #expect(!JetStreamContext.isTransientConflict("Consumer Deleted"))
        #expect(!JetStreamContext.isTransientConflict("Exceeded MaxWaiting"))
    }

    @Test func namesAreValidated() {
        for bad in ["", "a.b", "a b", "a*", "a>"] {
            #expect(throws: NATSError.self) { try JetStreamContext.validateName(bad, "stream") }
        }
    }
}
