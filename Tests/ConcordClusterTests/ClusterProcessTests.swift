import Foundation
import NATSClient
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Members of one cluster as separate `concord replica run` processes, replicating through
/// real nats-servers: convergence, SIGKILL of a member and of the stream leader, a member that
/// starts after the writer died, a state transfer larger than NATS's 1 MiB payload, mutual TLS.
/// `make test-cluster` runs them (not `make test`).
@Suite(.serialized) struct ClusterProcessTests {
    @Test func threeMembersWithWorkloadsConvergeAndCanBeInspectedWhileTheyRun() async throws {
        try await withTemporaryDirectory { root in
            let server = try NATSServer(in: root)
            try await server.start()
            defer { server.killHard() }
            let members = try (1...3).map {
                try Member(root: root, cluster: "converge", id: $0, members: 3, extra: ["--durability", "noSync"])
            }
            for member in members { try await member.run([server.url], workload: 300) }
            for member in members { try await member.child!.waitForLine(startingWith: "acked 300") }
            try await waitForConvergence(members, total: 900)

            // The operator's commands work on a member directory while its process runs.
            let directory = members[1].directory.path
            let status = try concordOK(["status", directory, "--json"])
            #expect(status.contains("\"replica\""), "\(status)")
            #expect(try concordOK(["verify", directory]).contains("intact"))
            let backups = root.appendingPathComponent("backups").path
            #expect(
                try concordOK(["backup", "create", directory, "--to", backups, "--name", "live"]).contains("1 replicas")
            )
            #expect(try concordOK(["backup", "verify", backups + "/live"]).contains("intact"))
            #expect(try members[1].digest().hasSuffix(" 1 objects"))

            for member in members {
                let status = try await member.child!.terminate()
                #expect(status == 0, "member \(member.id) exited \(status): \(member.child!.standardError)")
                #expect(member.child!.lines.last?.hasPrefix("closed: ") == true)
            }
            for member in members { #expect(try concordOK(["verify", member.directory.path]).contains("intact")) }

            // The backup restores to a member directory of the same member, which serves.
            let restored = root.appendingPathComponent("restored").path
            _ = try concordOK(["backup", "restore", backups + "/live", "--to", restored])
            #expect(try concordOK(["digest", restored]) == (try members[1].digest()))
            let back = try Child(
                concordExecutable, ["replica", "run", restored, "--nats", server.url], name: "restored member 2")
            try await back.waitForLine(startingWith: "serving replica 2 of cluster converge")
            #expect(try await back.terminate() == 0)
        }
    }

    @Test func aMemberKilledMidWorkloadLosesNoAcknowledgedIncrement() async throws {
        try await withTemporaryDirectory { root in
            let server = try NATSServer(in: root)
            try await server.start()
            defer { server.killHard() }
            let members = try (1...3).map {
                try Member(root: root, cluster: "crash", id: $0, members: 3, extra: ["--durability", "full"])
            }
            try await members[1].run([server.url])
            try await members[2].run([server.url])
            let writer = try await members[0].run([server.url], workload: 100_000)
            try await eventually("200 acknowledged increments", within: 60) { writer.lastAcknowledged >= 200 }
            writer.killHard()
            let acknowledged = writer.lastAcknowledged
            #expect(try concordOK(["verify", members[0].directory.path]).contains("intact"))
            // Every acknowledged increment survived the kill at the writer ...
            let survived = try members[0].workload()
            #expect(survived >= acknowledged && survived <= acknowledged + 1, "acked \(acknowledged), read \(survived)")
            // ... and reaches every member once the writer runs again.
            try await members[0].run([server.url])
            try await waitForConvergence(members, total: survived)
            for member in members { try await member.child!.terminate() }
        }
    }

    @Test func aMemberStartedAfterTheWriterDiedStillGetsItsWrites() async throws {
        try await withTemporaryDirectory { root in
            let server = try NATSServer(in: root)
            try await server.start()
            defer { server.killHard() }
            let members = try (1...2).map {
                try Member(root: root, cluster: "late", id: $0, members: 2, extra: ["--durability", "noSync"])
            }
            let writer = try await members[0].run([server.url], workload: 150)
            try await writer.waitForLine(startingWith: "acked 150")
            // Past the retransmit timeout, so everything is in the stream whatever was in flight.
            try await Task.sleep(for: .seconds(5))
            writer.killHard()
            // It asks for other stream settings than the writer made it with: it uses the
            // stream as it is.
            try await members[1].run([server.url], extra: ["--stream-replicas", "3"])
            try await eventually("the late member to read 150", within: 60) { try members[1].workload() == 150 }
            // What waits for a member that is down is capped by count and by bytes.
            let connection = try await NATSConnection.connect(NATSOptions(servers: [server.url]))
            let stream = try await JetStreamContext(connection).streamInfo("CONCORD_late").config
            await connection.close()
            #expect(stream.retention == .workQueue && stream.subjects == ["concord.late.to.*"])
            #expect(stream.maxMessagesPerSubject == 100_000 && stream.maxBytes == 1 << 30 && stream.discard == .old)
            #expect(stream.replicas == 1)
            try await members[1].child!.terminate()
        }
    }

    @Test func aStateTransferLargerThanOneMebibyteArrivesInChunks() async throws {
        try await withTemporaryDirectory { root in
            let server = try NATSServer(in: root)
            try await server.start()
            defer { server.killHard() }
            // A log of 4 entries: the late member lacks more than that, so it gets a state,
            // which holds 24 elements of 100 kB.
            let members = try (1...2).map {
                try Member(
                    root: root, cluster: "bulk", id: $0, members: 2,
                    extra: ["--durability", "noSync", "--log-bound", "4"])
            }
            let writer = try await members[0].run([server.url], workload: 24, extra: ["--value-bytes", "100000"])
            try await writer.waitForLine(startingWith: "acked 24")
            try await members[1].run([server.url])
            try await waitForConvergence(members, total: 24)
            let blobs = try concordOK(["read", members[1].directory.path, "blobs", "awset", "--bucket", "load"])
            #expect(blobs.split(separator: "\n").count == 24)
            try await writer.terminate()
            let closing = try #require(writer.lines.last)
            let states = Int(closing.split(separator: ";").last?.split(separator: " ").first ?? "") ?? 0
            #expect(states >= 1, "\(closing)")
            try await members[1].child!.terminate()
        }
    }

    @Test func theStreamLeaderKilledUnderLoadLosesNothing() async throws {
        try await withTemporaryDirectory { root in
            let clientPorts = try (0..<3).map { _ in try freePort() }
            let routePorts = try (0..<3).map { _ in try freePort() }
            let servers = try (0..<3).map { index in
                let routes = routePorts.enumerated().filter { $0.offset != index }
                    .map { "\"nats-route://127.0.0.1:\($0.element)\"" }.joined(separator: ", ")
                return try NATSServer(
                    in: root, name: "n\(index + 1)", port: clientPorts[index],
                    configuration: """
                        server_name: n\(index + 1)
                        listen: 127.0.0.1:\(clientPorts[index])
                        jetstream { store_dir: "\(root.appendingPathComponent("n\(index + 1)-store").path)" }
                        cluster { name: concord-test, listen: 127.0.0.1:\(routePorts[index]), routes: [\(routes)] }
                        """)
            }
            for server in servers { try await server.start() }
            defer { for server in servers { server.killHard() } }
            let urls = servers.map(\.url)
            try await waitForJetStreamCluster(urls)
            let members = try (1...3).map {
                try Member(root: root, cluster: "failover", id: $0, members: 3, extra: ["--durability", "noSync"])
            }
            for member in members {
                try await member.run(urls, workload: 1_500, extra: ["--stream-replicas", "3"])
            }
            try await eventually("load on every member", within: 60) {
                members.allSatisfy { $0.child!.lastAcknowledged >= 100 }
            }
            let leader = try await streamLeader("CONCORD_failover", urls)
            let index = try #require(Int(leader.dropFirst()), "leader \(leader)") - 1
            servers[index].killHard()
            for member in members { try await member.child!.waitForLine(startingWith: "acked 1500", within: 120) }
            try await waitForConvergence(members, total: 4_500, within: 120)
            for member in members { try await member.child!.terminate() }
        }
    }

    @Test func encryptedMembersAuthenticateEveryMessageAndIgnoreAnotherKey() async throws {
        try await withTemporaryDirectory { root in
            let server = try NATSServer(in: root)
            try await server.start()
            defer { server.killHard() }
            func key(_ name: String) throws -> String {
                let url = root.appendingPathComponent(name)
                try Data((0..<32).map { _ in UInt8.random(in: 0...255) }).write(to: url)
                return url.path
            }
            let (right, wrong) = (try key("cluster.key"), try key("other.key"))
            let keys = [right, right, wrong]
            let members = try (1...3).map {
                try Member(
                    root: root, cluster: "sealed", id: $0, members: 3,
                    extra: ["--durability", "noSync", "--key-file", keys[$0 - 1]])
            }
            for member in members {
                try await member.run([server.url], workload: 50, extra: ["--key-file", keys[member.id - 1]])
            }
            for member in members { try await member.child!.waitForLine(startingWith: "acked 50") }
            // The two members with the cluster's key converge; the third member's messages
            // fail their MACs there, and theirs fail at it.
            let sealed = Array(members.prefix(2))
            let read = { (member: Member) throws -> Int in
                Int(
                    try concordOK([
                        "read", member.directory.path, "workload", "pncounter", "--bucket", "load", "--key-file",
                        keys[member.id - 1],
                    ])) ?? -1
            }
            try await eventually("the two members with the key to read 100", within: 60) {
                try sealed.allSatisfy { try read($0) == 100 }
            }
            try await Task.sleep(for: .seconds(4))  // past a retransmission
            #expect(try sealed.map(read) == [100, 100])
            #expect(try read(members[2]) == 50)
            // Without the key, the store does not open.
            let refused = try concord(["read", members[0].directory.path, "workload", "pncounter", "--bucket", "load"])
            #expect(refused.status != 0 && refused.error.contains("key"), "\(refused.error)")
            for member in members { try await member.child!.terminate() }
        }
    }

    @Test func underMutualTLSAMemberWithoutACertificateIsRefused() async throws {
        try await withTemporaryDirectory { root in
            let certificates = try makeCertificates(in: root)
            let port = try freePort()
            let server = try NATSServer(
                in: root, port: port,
                configuration: """
                    listen: 127.0.0.1:\(port)
                    jetstream { store_dir: "\(root.appendingPathComponent("tls-store").path)" }
                    tls {
                      cert_file: "\(certificates.serverCertificate)"
                      key_file: "\(certificates.serverKey)"
                      ca_file: "\(certificates.authority)"
                      verify: true
                      timeout: 5
                    }
                    """)
            try await server.start()
            defer { server.killHard() }
            let members = try (1...2).map {
                try Member(root: root, cluster: "secure", id: $0, members: 2, extra: ["--durability", "noSync"])
            }
            let tls = [
                "--tls-ca", certificates.authority, "--tls-cert", certificates.clientCertificate, "--tls-key",
                certificates.clientKey,
            ]
            let url = "tls://127.0.0.1:\(port)"
            try await members[0].run([url], workload: 20, extra: tls)
            try await members[1].run([url], extra: tls)
            try await waitForConvergence(members, total: 20)
            for member in members { try await member.child!.terminate() }

            // Without a certificate: refused, with a message that says so, and nothing changed.
            let refused = try concord(
                ["replica", "run", members[1].directory.path, "--nats", url, "--tls-ca", certificates.authority])
            #expect(refused.status != 0)
            #expect(
                refused.error.lowercased().contains("tls") || refused.error.contains("certificate"), "\(refused.error)")
            #expect(try members[1].workload() == 20)
        }
    }
}

/// Waits until the three servers have formed a JetStream cluster (a meta leader answers).
func waitForJetStreamCluster(_ urls: [String]) async throws {
    let deadline = Date().addingTimeInterval(30)
    while true {
        do {
            let connection = try await NATSConnection.connect(NATSOptions(servers: urls))
            defer { Task { await connection.close() } }
            let reply = try await connection.request("$JS.API.INFO", payload: [], timeout: .seconds(2))
            let text = String(decoding: reply.payload, as: UTF8.self)
            if !text.contains("\"error\"") { return }
        } catch {
            if Date() > deadline { throw TestFailure("the JetStream cluster did not form: \(error)") }
        }
        guard Date() < deadline else { throw TestFailure("the JetStream cluster did not form") }
        try await Task.sleep(for: .milliseconds(250))
    }
}

/// The `server_name` of the stream's leader (from `$JS.API.STREAM.INFO`).
func streamLeader(_ stream: String, _ urls: [String]) async throws -> String {
    let connection = try await NATSConnection.connect(NATSOptions(servers: urls))
    defer { Task { await connection.close() } }
    let reply = try await connection.request("$JS.API.STREAM.INFO.\(stream)", payload: [], timeout: .seconds(5))
    let object = try JSONSerialization.jsonObject(with: Data(reply.payload)) as? [String: Any]
    guard let cluster = object?["cluster"] as? [String: Any], let leader = cluster["leader"] as? String else {
        throw TestFailure("no leader in \(String(decoding: reply.payload, as: UTF8.self))")
    }
    return leader
}

/// A certificate authority, a server certificate for 127.0.0.1 and a client certificate, made
/// with openssl.
func makeCertificates(in root: URL) throws -> (
    authority: String, serverCertificate: String, serverKey: String, clientCertificate: String, clientKey: String
) {
    let folder = root.appendingPathComponent("pki").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let script = """
        set -e
        cd "\(folder)"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=concord-test-ca
        openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj /CN=127.0.0.1
        printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server.pem -days 2 \
          -extfile server.ext
        openssl req -newkey rsa:2048 -nodes -keyout client-key.pem -out client.csr -subj /CN=member
        printf 'extendedKeyUsage=clientAuth\\n' > client.ext
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client.pem -days 2 \
          -extfile client.ext
        """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    let errors = Pipe()
    process.standardOutput = FileHandle.nullDevice
    process.standardError = errors
    try process.run()
    let message = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestFailure("openssl failed: \(String(decoding: message, as: UTF8.self))")
    }
    return (
        "\(folder)/ca.pem", "\(folder)/server.pem", "\(folder)/server-key.pem", "\(folder)/client.pem",
        "\(folder)/client-key.pem"
    )
}
