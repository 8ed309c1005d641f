import Concord
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `concord` executable, run as a real child process: every command, its exit statuses,
/// the owner's lock across processes, and SIGKILL crashes of a writing child.
@Suite(.serialized) struct CommandLineTests {
    // MARK: Running the executable

    struct Outcome {
        var status: Int32
        var output: String
        var error: String

        var lines: [String] { output.split(separator: "\n").map(String.init) }
    }

    /// The `concord` binary built beside the test bundle.
    static let executable: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("concord")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/concord")
    }()

    @discardableResult
    static func run(_ arguments: [String]) throws -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let (output, error) = (Pipe(), Pipe())
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
            error: String(decoding: err, as: UTF8.self))
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text)")
    }

    // MARK: Commands

    @Test func theExecutableIsBuilt() {
        #expect(
            FileManager.default.isExecutableFile(atPath: Self.executable.path),
            "build it first: swift build --build-tests (looked for \(Self.executable.path))")
    }

    @Test func initUpdateReadStatusVerifyHealthDumpAndConflicts() throws {
        try withTemporaryDirectory { root in
            let dir = root.appendingPathComponent("cluster").path
            #expect(try Self.run(["init", dir, "--replicas", "3", "--durability", "noSync"]).status == 0)
            #expect(
                try Self.run(["update", dir, "likes", "pncounter", "increment", "5", "--bucket", "posts"]).status == 0)
            #expect(
                try Self.run([
                    "update", dir, "likes", "pncounter", "decrement", "2", "--bucket", "posts", "--replica", "2",
                ]).status == 0)
            for element in ["swift", "lmdb", "crdt"] {
                #expect(try Self.run(["update", dir, "tags", "awset", "add", element, "--replica", "3"]).status == 0)
            }
            #expect(
                try Self.run(["update", dir, "profile", "rrmap", "update", "name", "lwwregister", "assign", "Ada"])
                    .status
                    == 0)

            #expect(try Self.run(["read", dir, "likes", "pncounter", "--bucket", "posts"]).lines == ["3"])
            #expect(try Self.run(["read", dir, "tags", "awset", "--replica", "2"]).lines == ["crdt", "lmdb", "swift"])
            let read = try Self.json(try Self.run(["read", dir, "tags", "awset", "--json"]).output)
            #expect(read["value"] as? [String] == ["crdt", "lmdb", "swift"])
            let status = try Self.json(try Self.run(["status", dir, "--json"]).output)
            #expect(status["converged"] as? Bool == true)
            #expect((status["replicas"] as? [[String: Any]])?.count == 3)
            #expect(try Self.run(["status", dir]).output.contains("converged  yes"))
            let verify = try Self.run(["verify", dir])
            #expect(verify.status == 0 && verify.lines.last == "intact")
            let health = try Self.json(try Self.run(["health", dir, "--json"]).output)
            #expect(health["status"] as? String == "healthy")
            let dump = try Self.json(try Self.run(["dump-state", dir, "--replica", "1", "--json"]).output)
            let objects = try #require((dump["replicas"] as? [[String: Any]])?.first?["objects"] as? [[String: Any]])
            #expect(Set(objects.compactMap { $0["key"] as? String }) == ["profile", "tags", "likes"])
            #expect(try Self.run(["dump-state", dir]).output.contains("metadata"))
            let conflicts = try Self.run(["show-conflicts", dir, "--json"])
            #expect(conflicts.status == 0)
            #expect(try Self.json(conflicts.output)["conflicts"] as? [Any] != nil)
            #expect(try Self.run(["sync", dir]).status == 0)
            #expect(try Self.run(["gc", dir]).status == 0)
            let compact = try Self.run(["compact", dir])
            #expect(compact.status == 0 && compact.output.contains("total:"))
            #expect(try Self.run(["wipe", dir, "--replica", "2"]).output.contains("resynced"))
            #expect(
                try Self.run(["read", dir, "likes", "pncounter", "--bucket", "posts", "--replica", "2"]).lines == ["3"])
        }
    }

    @Test func badUsageAndBadInputExitWithTwoAndOneLine() throws {
        try withTemporaryDirectory { root in
            let dir = root.appendingPathComponent("cluster").path
            #expect(try Self.run(["init", dir, "--replicas", "2"]).status == 0)
            let unknownType = try Self.run(["update", dir, "k", "hypercounter", "increment", "1"])
            #expect(unknownType.status == 2 && unknownType.error.contains("unknown type"))
            let badOperation = try Self.run(["update", dir, "k", "pncounter", "multiply", "2"])
            #expect(badOperation.status == 2 && badOperation.error.contains("no operation \"multiply\""))
            let badNumber = try Self.run(["update", dir, "k", "pncounter", "increment", "many"])
            #expect(badNumber.status == 2)
            let missing = try Self.run(["read", dir])
            #expect(missing.status == 2)
            let notACluster = try Self.run(["status", root.path])
            #expect(notACluster.status == 2)
            #expect(notACluster.error.split(separator: "\n").count == 1)
            let nothing = try Self.run(["verify", root.appendingPathComponent("absent").path])
            #expect(nothing.status == 2)
            let nonMember = try Self.run(["read", dir, "k", "pncounter", "--replica", "9"])
            #expect(nonMember.status == 2 && nonMember.error.contains("not a member"))
            let again = try Self.run(["init", dir])
            #expect(again.status == 2)
            // A damaged manifest: one line, exit 2, never a trap.
            try Data("{ not json".utf8).write(
                to: URL(fileURLWithPath: dir).appendingPathComponent("cluster-manifest.json"))
            let damaged = try Self.run(["status", dir])
            #expect(damaged.status == 2 && damaged.error.split(separator: "\n").count == 1)
            for command in ["init", "update", "read", "status", "backup", "simulate"] {
                let help = try Self.run([command, "--help"])
                #expect(help.status == 0 && help.output.contains("USAGE"), "\(command) --help")
            }
            #expect(try Self.run(["update", "--help"]).output.contains("Example"))
        }
    }

    @Test func backupsFromTheCommandLine() throws {
        try withTemporaryDirectory { root in
            let dir = root.appendingPathComponent("cluster").path
            let backups = root.appendingPathComponent("backups").path
            #expect(try Self.run(["init", dir, "--replicas", "2"]).status == 0)
            #expect(try Self.run(["update", dir, "likes", "gcounter", "increment", "7"]).status == 0)
            let created = try Self.run([
                "backup", "create", dir, "--to", backups, "--name", "one", "--description", "test",
            ])
            #expect(created.status == 0 && created.output.contains("backup one"))
            #expect(try Self.run(["update", dir, "likes", "gcounter", "increment", "1"]).status == 0)
            #expect(try Self.run(["backup", "create", dir, "--to", backups, "--name", "two"]).status == 0)
            let list = try Self.run(["backup", "list", backups, "--json"])
            let entries = try #require(
                try JSONSerialization.jsonObject(with: Data(list.output.utf8)) as? [[String: Any]])
            #expect(entries.map { $0["name"] as? String } == ["one", "two"])
            #expect(entries.first?["description"] as? String == "test")
            #expect(try Self.run(["backup", "stats", backups]).output.contains("backups      2"))
            #expect(try Self.run(["backup", "verify", "\(backups)/one"]).status == 0)

            let restored = root.appendingPathComponent("restored").path
            #expect(try Self.run(["backup", "restore", "\(backups)/one", "--to", restored]).status == 0)
            #expect(try Self.run(["sync", restored]).status == 0)
            #expect(try Self.run(["read", restored, "likes", "gcounter"]).lines == ["7"])
            // One replica from the older backup: it catches up, nothing is lost.
            #expect(try Self.run(["backup", "restore", "\(backups)/one", "--to", dir, "--replica", "1"]).status == 0)
            #expect(try Self.run(["sync", dir]).status == 0)
            #expect(try Self.run(["read", dir, "likes", "gcounter", "--replica", "1"]).lines == ["8"])

            // Damage: verify exits 1 and says where; restore refuses and changes nothing.
            let file = URL(fileURLWithPath: "\(backups)/two/replica-1/data.mdb")
            var bytes = try Data(contentsOf: file)
            bytes[bytes.count - 100] ^= 0xFF
            try bytes.write(to: file)
            let damaged = try Self.run(["backup", "verify", "\(backups)/two"])
            #expect(damaged.status == 1 && damaged.output.contains("SHA-256"))
            let refused = try Self.run([
                "backup", "restore", "\(backups)/two", "--to", root.appendingPathComponent("x").path,
            ])
            #expect(refused.status == 2 && refused.error.contains("does not verify"))

            #expect(try Self.run(["backup", "cleanup", backups, "--keep", "1"]).output.contains("deleted one"))
            #expect(try Self.run(["backup", "cleanup", backups]).status == 2)
            #expect(try Self.run(["backup", "cleanup", backups, "--max-age", "soon"]).status == 2)
        }
    }

    @Test func aDamagedReplicaIsReportedAndWipedBackFromItsPeers() throws {
        try withTemporaryDirectory { root in
            let dir = root.appendingPathComponent("shop").path
            #expect(try Self.run(["init", dir, "--replicas", "3"]).status == 0)
            #expect(try Self.run(["update", dir, "tags", "awset", "add", "swift", "--replica", "2"]).status == 0)
            // Both LMDB meta pages of replica 2 zeroed: its file is no LMDB environment any more.
            let file = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(dir)/replica-2/data.mdb"))
            try file.write(contentsOf: Data(count: 8_192))
            try file.close()
            let status = try Self.run(["status", dir])
            #expect(status.status == 0 && status.output.contains("DAMAGED"))
            let verify = try Self.run(["verify", dir])
            #expect(verify.status == 1 && verify.output.contains("MDB_INVALID"))
            #expect(try Self.run(["health", dir]).lines.first == "degraded")
            let refused = try Self.run(["update", dir, "tags", "awset", "add", "lmdb"])
            #expect(refused.status == 2 && refused.error.contains("concord wipe DIR --replica 2"))
            let wipe = try Self.run(["wipe", dir, "--replica", "2"])
            #expect(wipe.status == 0 && wipe.output.contains("resynced"), "\(wipe.error)")
            #expect(try Self.run(["verify", dir]).status == 0)
            #expect(try Self.run(["read", dir, "tags", "awset", "--replica", "2"]).lines == ["swift"])
            // The damaged folder is kept beside the cluster, not deleted.
            #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).contains { $0.contains(".wiped-") })
        }
    }

    @Test func aClusterThatHidesItsObjectKeysFromTheCommandLine() throws {
        try withTemporaryDirectory { root in
            let dir = root.appendingPathComponent("vault").path
            let key = root.appendingPathComponent("cluster.key")
            try Data((0..<32).map { UInt8($0 * 3) }).write(to: key)
            let refused = try Self.run(["init", dir, "--hide-object-keys"])
            #expect(refused.status == 2 && refused.error.contains("--key-file"))
            let made = try Self.run(["init", dir, "--replicas", "2", "--key-file", key.path, "--hide-object-keys"])
            #expect(made.status == 0 && made.output.contains("object keys hidden"), "\(made.error)")
            let name = "salary-of-alex-2026"
            let update = try Self.run(["update", dir, name, "lwwregister", "assign", "12345", "--key-file", key.path])
            #expect(update.status == 0, "\(update.error)")
            #expect(try Self.run(["read", dir, name, "lwwregister", "--key-file", key.path]).lines == ["12345"])
            #expect(try Self.run(["verify", dir, "--key-file", key.path]).status == 0)
            let dump = try Self.run(["dump-state", dir, "--key-file", key.path])
            #expect(dump.status == 0 && dump.output.contains(name), "\(dump.error)")
            #expect(try !EncryptionTests.filesContain(name, under: URL(fileURLWithPath: dir)))
        }
    }

    @Test func anEncryptedClusterFromTheCommandLineWithRekeyAndAudit() throws {
        try withTemporaryDirectory { root in
            let dir = root.appendingPathComponent("vault").path
            let first = root.appendingPathComponent("first.key")
            let second = root.appendingPathComponent("second.key")
            try Data((0..<32).map { UInt8($0) }).write(to: first)
            try Data((0..<32).map { UInt8(255 - $0) }).write(to: second)
            let made = try Self.run(["init", dir, "--replicas", "2", "--key-file", first.path, "--key-id", "first"])
            #expect(made.status == 0 && made.output.contains("encrypted with key 'first'"))
            #expect(
                try Self.run(["update", dir, "secret", "lwwregister", "assign", "hunter2", "--key-file", first.path])
                    .status
                    == 0)
            let missing = try Self.run(["read", dir, "secret", "lwwregister"])
            #expect(missing.status == 2 && missing.error.contains("--key-file"))
            let wrong = try Self.run(["read", dir, "secret", "lwwregister", "--key-file", second.path])
            #expect(wrong.status == 2 && wrong.error.contains("key mismatch"), "\(wrong.error)")
            #expect(
                try Self.run(["read", dir, "secret", "lwwregister", "--key-file", first.path]).lines == ["hunter2"])
            let short = root.appendingPathComponent("short.key")
            try Data([1, 2, 3]).write(to: short)
            #expect(try Self.run(["read", dir, "secret", "lwwregister", "--key-file", short.path]).status == 2)

            let rekey = try Self.run(["rekey", dir, "--from", first.path, "--to", second.path, "--key-id", "second"])
            #expect(rekey.status == 0 && rekey.output.contains("rekeyed 2 stores"), "\(rekey.error)")
            #expect(
                try Self.run(["read", dir, "secret", "lwwregister", "--key-file", second.path]).lines == ["hunter2"])
            #expect(try Self.run(["verify", dir, "--key-file", second.path]).status == 0)
            let backups = root.appendingPathComponent("backups").path
            #expect(
                try Self.run(["backup", "create", dir, "--to", backups, "--name", "b", "--key-file", second.path])
                    .status == 0)
            #expect(try Self.run(["backup", "verify", "\(backups)/b", "--key-file", second.path]).status == 0)
            #expect(try Self.run(["backup", "verify", "\(backups)/b"]).status == 1)

            let audit = try Self.run(["audit", "show", dir])
            for action in ["init", "open", "close", "rekey", "backup", "verify"] {
                #expect(audit.output.contains("  \(action)  "), "\(action) missing from\n\(audit.output)")
            }
            #expect(audit.output.contains("key mismatch"))
            #expect(try Self.run(["audit", "verify", dir]).status == 0)
            let folder = URL(fileURLWithPath: dir).appendingPathComponent("audit")
            let file = folder.appendingPathComponent(
                try #require(
                    try FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasSuffix(".jsonl") }))
            var lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init)
            lines.remove(at: 1)
            try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
            let tampered = try Self.run(["audit", "verify", dir])
            #expect(tampered.status == 1 && tampered.output.contains("NOT INTACT"))
        }
    }

    /// A rekey killed half way leaves a directory that refuses to open until the same rekey
    /// runs again, and nothing is lost.
    @Test func aRekeyKilledHalfWayIsRefusedThenFinishedByRunningItAgain() throws {
        try withTemporaryDirectory { root in
            let url = root.appendingPathComponent("vault")
            let first = root.appendingPathComponent("first.key")
            let second = root.appendingPathComponent("second.key")
            try Data((0..<32).map { UInt8($0) }).write(to: first)
            try Data((0..<32).map { UInt8(200 - $0) }).write(to: second)
            let old = try Encryption(keyFile: first, keyID: "first")
            let new = try Encryption(keyFile: second, keyID: "second")
            do {
                let cluster = try Cluster(
                    directory: url, replicas: 1, configuration: Configuration(durability: .noSync, encryption: old))
                for start in stride(from: 0, to: 30_000, by: 1_000) {
                    try cluster.replicas[0].transaction { tx in
                        for i in start..<start + 1_000 { try tx.update(Key<GCounter>("c\(i)"), .increment(1)) }
                    }
                }
                cluster.close()
            }
            let rekey = ["rekey", url.path, "--from", first.path, "--to", second.path, "--key-id", "second"]
            // How long a whole rekey takes here; then back to the old key, and kill the next
            // one at about half that time (later or earlier when a kill missed the middle).
            let started = Date()
            #expect(try Self.run(rekey).status == 0)
            var delay = Date().timeIntervalSince(started) / 2
            try Cluster.rekey(directoryAt: url, from: new, to: old)
            var interrupted = false
            for _ in 0..<8 where !interrupted {
                let process = Process()
                process.executableURL = Self.executable
                process.arguments = rekey
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                usleep(UInt32(delay * 1_000_000))
                sendKill(process.processIdentifier)
                process.waitUntilExit()
                do throws(ConcordError) {
                    // It finished before the kill: back to the old key, kill sooner.
                    try Cluster(directory: url, replicas: 1, configuration: Configuration(encryption: new)).close()
                    try Cluster.rekey(directoryAt: url, from: new, to: old)
                    delay *= 0.6
                } catch let error where error.message.contains("did not finish") {
                    interrupted = true
                } catch {
                    // Killed before it recorded the rekey: the old key still opens it; kill later.
                    #expect(error.code == .keyMismatch, "\(error)")
                    try Cluster(directory: url, replicas: 1, configuration: Configuration(encryption: old)).close()
                    delay *= 1.5
                }
            }
            #expect(interrupted, "no kill landed in the middle of the rekey (last delay \(delay) s)")
            if interrupted {
                #expect(throws: ConcordError.self) {
                    _ = try Cluster(directory: url, replicas: 1, configuration: Configuration(encryption: old))
                }
                let resumed = try Self.run(rekey)
                #expect(resumed.status == 0, "\(resumed.error)")
                #expect(resumed.output.contains("moved by an earlier run"))
            }
            let cluster = try Cluster(directory: url, replicas: 1, configuration: Configuration(encryption: new))
            defer { cluster.close() }
            #expect(try cluster.replicas[0].read(Key<GCounter>("c29999")) == 1)
            #expect(cluster.verify().isIntact)
        }
    }

    @Test func simulateKeepsItsFinalCluster() throws {
        try withTemporaryDirectory { root in
            let kept = root.appendingPathComponent("kept").path
            let run = try Self.run(["simulate", "--seed", "3", "--ops", "200", "--quiet", "--keep", kept])
            #expect(run.status == 0, "\(run.output)\(run.error)")
            #expect(try Self.run(["verify", kept]).status == 0)
            #expect(try Self.json(try Self.run(["status", kept, "--json"]).output)["converged"] as? Bool == true)
        }
    }

    // MARK: Another process owns the directory

    /// A `write-loop` child: its standard output, line by line.
    final class Writer: @unchecked Sendable {
        let process = Process()
        private let pipe = Pipe()
        private var buffer = Data()

        init(directory: String) throws {
            process.executableURL = CommandLineTests.executable
            process.arguments = ["write-loop", directory]
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        /// Reads until the child has acknowledged at least `count` transactions; returns the
        /// last it acknowledged.
        func waitForAcknowledgement(atLeast count: Int) throws -> Int {
            var last = 0
            while last < count {
                let chunk = pipe.fileHandleForReading.availableData
                guard !chunk.isEmpty else { throw ConcordError(.unavailable, "the writer exited early") }
                buffer += chunk
                let text = String(decoding: buffer, as: UTF8.self)
                let complete =
                    text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n") ?? text.startIndex)])
                if let line = complete.split(separator: "\n").last, let number = Int(line) { last = number }
            }
            return last
        }

        /// SIGKILL, then the last transaction it acknowledged (reading what it printed).
        func kill() -> Int {
            sendKill(process.processIdentifier)
            process.waitUntilExit()
            buffer += pipe.fileHandleForReading.readDataToEndOfFile()
            let lines = String(decoding: buffer, as: UTF8.self).split(separator: "\n")
            // A line cut by the kill is not an acknowledgement.
            let whole = String(decoding: buffer, as: UTF8.self).hasSuffix("\n") ? lines : lines.dropLast()
            return whole.last.flatMap { Int($0) } ?? 0
        }
    }

    @Test func watchPrintsEachChangeBesideAWritingProcess() throws {
        try withTemporaryDirectory { root in
            let dir = root.appendingPathComponent("cluster").path
            #expect(try Self.run(["init", dir, "--replicas", "2", "--durability", "noSync"]).status == 0)
            let writer = try Writer(directory: dir)
            defer { _ = writer.kill() }
            _ = try writer.waitForAcknowledgement(atLeast: 1)
            let watched = try Self.run([
                "watch", dir, "acknowledged", "pncounter", "--bucket", "crash", "--json", "--count", "25",
                "--interval", "2",
            ])
            #expect(watched.status == 0, "\(watched.error)")
            let lines = try watched.lines.map(Self.json)
            #expect(lines.count == 25)
            // The writer was still writing: every line is a change, and the values only grow.
            #expect(writer.process.isRunning)
            let values = lines.compactMap { $0["value"] as? Int }
            #expect(values.count == 25 && zip(values, values.dropFirst()).allSatisfy { $0 < $1 }, "\(values)")
            #expect(lines.first?["origin"] as? String == "initial")
            #expect(lines.dropFirst().allSatisfy { $0["origin"] as? String == "local" })
            #expect(lines.allSatisfy { ($0["clock"] as? [String: Any])?["1"] != nil })
            let plain = try Self.run(["watch", dir, "elements", "awset", "--bucket", "crash", "--count", "1"])
            #expect(plain.status == 0 && plain.lines.count == 1 && plain.output.contains(" initial e1; "))
            let unknown = try Self.run(["watch", dir, "k", "nosuchtype", "--count", "1"])
            #expect(unknown.status != 0 && unknown.error.contains("unknown type"))
        }
    }

    @Test func readersWorkWhileAnotherProcessOwnsAndWritesAndWritersAreToldWho() throws {
        try withTemporaryDirectory { root in
            let dir = root.appendingPathComponent("cluster").path
            #expect(try Self.run(["init", dir, "--replicas", "2", "--durability", "noSync"]).status == 0)
            let writer = try Writer(directory: dir)
            _ = try writer.waitForAcknowledgement(atLeast: 20)
            let refused = try Self.run(["update", dir, "k", "gcounter", "increment", "1"])
            #expect(refused.status == 2)
            #expect(refused.error.contains("process \(writer.process.processIdentifier)"), "\(refused.error)")
            for command in [
                ["read", dir, "acknowledged", "pncounter", "--bucket", "crash"], ["status", dir], ["verify", dir],
                ["dump-state", dir, "--json"], ["show-conflicts", dir], ["health", dir],
            ] {
                let outcome = try Self.run(command)
                #expect(outcome.status == 0, "\(command): \(outcome.error)")
            }
            #expect(try Self.run(["status", dir]).output.contains("process \(writer.process.processIdentifier)"))
            let backups = root.appendingPathComponent("backups").path
            #expect(try Self.run(["backup", "create", dir, "--to", backups, "--name", "hot"]).status == 0)
            _ = writer.kill()
            #expect(try Self.run(["backup", "verify", "\(backups)/hot"]).status == 0)
        }
    }

    // MARK: Real crashes

    /// Kills a writing child with SIGKILL at seeded moments, again and again; after each
    /// kill the store verifies, and under `.full` and `.groupCommit` every acknowledged
    /// transaction is there.
    @Test(arguments: ["full", "groupCommit", "noSync"])
    func sigkillMidCommitLosesNothingAcknowledged(durability: String) throws {
        let seed = UInt64.random(in: 1...1_000_000)
        var generator = SeededRandom(seed: seed)
        try withTemporaryDirectory { root in
            let dir = root.appendingPathComponent("cluster").path
            #expect(try Self.run(["init", dir, "--replicas", "2", "--durability", durability]).status == 0)
            var acknowledged = 0
            for round in 0..<6 {
                let writer = try Writer(directory: dir)
                _ = try writer.waitForAcknowledgement(atLeast: acknowledged + 1 + Int(generator.next() % 40))
                usleep(UInt32(generator.next() % 3_000))
                acknowledged = max(acknowledged, writer.kill())
                let reader = try ClusterReader(directory: URL(fileURLWithPath: dir))
                let report = reader.verify()
                #expect(report.isIntact, "seed \(seed) round \(round): \(report.allProblems)")
                let counter = try reader.read(Key<PNCounter>("acknowledged", bucket: "crash"), at: 1)
                let elements = try reader.read(Key<AWSet<String>>("elements", bucket: "crash"), at: 1)
                // Transactions are atomic whatever the durability: both keys moved together.
                #expect(Int(counter) == elements.count, "seed \(seed) round \(round)")
                if durability != "noSync" {
                    #expect(counter >= Int64(acknowledged), "seed \(seed) round \(round): acknowledged \(acknowledged)")
                    #expect((1...acknowledged).allSatisfy { elements.contains("e\($0)") }, "seed \(seed)")
                }
                reader.close()
            }
            // The owner reopens, the replicas converge, and it all verifies.
            let cluster = try Cluster(directory: URL(fileURLWithPath: dir), replicas: 2)
            try cluster.synchronize()
            #expect(cluster.status().isConverged, "seed \(seed)")
            #expect(cluster.verify().isIntact, "seed \(seed)")
            cluster.close()
        }
    }

    /// A backup taken from this process while a child writes and is killed is whole: it
    /// verifies, restores, and each restored replica's two keys agree.
    @Test func aBackupTakenWhileTheWriterIsKilledVerifiesAndRestores() throws {
        try withTemporaryDirectory { root in
            let dir = root.appendingPathComponent("cluster").path
            let backups = root.appendingPathComponent("backups")
            #expect(try Self.run(["init", dir, "--replicas", "2", "--durability", "noSync"]).status == 0)
            let writer = try Writer(directory: dir)
            _ = try writer.waitForAcknowledgement(atLeast: 30)
            let reader = try ClusterReader(directory: URL(fileURLWithPath: dir))
            let killer = Thread {
                usleep(2_000)
                _ = writer.kill()
            }
            killer.start()
            let taken = try reader.backup(to: backups, name: "during")
            reader.close()
            while writer.process.isRunning { usleep(1_000) }
            #expect(try Backups(directory: backups).verify(taken.name).isIntact)
            let restored = root.appendingPathComponent("restored")
            _ = try Backups(directory: backups).restore(taken.name, to: restored)
            let cluster = try Cluster(directory: restored, replicas: 2)
            defer { cluster.close() }
            try cluster.synchronize()
            for replica in cluster.replicas {
                let counter = try replica.read(Key<PNCounter>("acknowledged", bucket: "crash"))
                #expect(Int(counter) == (try replica.read(Key<AWSet<String>>("elements", bucket: "crash"))).count)
            }
        }
    }
}

/// SIGKILL to `process`.
private func sendKill(_ process: Int32) {
    kill(process, SIGKILL)
}
