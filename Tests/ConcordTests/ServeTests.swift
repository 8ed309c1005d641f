import Foundation
import Locking
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `concord serve`, run as a real child process on a port the system picks, asked over HTTP
/// with URLSession: the metrics exposition, the JSON endpoints, errors as JSON, the owner's
/// lock, a port in use, and SIGTERM.
@Suite(.serialized) struct ServeTests {
    /// A running `concord serve` and the URL it said it listens on.
    final class Server: @unchecked Sendable {
        let process = Process()
        let url: URL
        private let output = Pipe()
        private let error = Pipe()

        /// Starts `concord serve DIRECTORY --port 0 ARGUMENTS` and waits (up to 30 s) for its line.
        init(directory: String, _ arguments: [String] = []) throws {
            process.executableURL = CommandLineTests.executable
            process.arguments = ["serve", directory, "--port", "0"] + arguments
            process.standardOutput = output
            process.standardError = error
            try process.run()
            var text = ""
            let deadline = Date().addingTimeInterval(30)
            while !text.contains("\n") && Date() < deadline {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }  // the child closed its output: it exited
                text += String(decoding: chunk, as: UTF8.self)
            }
            guard let match = text.firstMatch(of: /listening on (http:\/\/\S+)/), let url = URL(string: String(match.1))
            else {
                process.terminate()
                process.waitUntilExit()
                let problem = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                throw ServeTestError("concord serve did not say where it listens: \(text) \(problem)")
            }
            self.url = url
        }

        /// SIGTERM, then its exit status and standard error.
        func terminate() -> (status: Int32, error: String) {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            return (
                process.terminationStatus,
                String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            )
        }

        deinit {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
    }

    struct ServeTestError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: String

        func header(_ name: String) -> String? {
            headers.first { $0.key.lowercased() == name.lowercased() }?.value
        }

        func json() throws -> [String: Any] {
            try #require(
                try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "not a JSON object: \(body)")
        }
    }

    /// One request with URLSession, waited for on this thread: the suite's tests are
    /// synchronous so that, once running, they do not wait for a cooperative thread behind the
    /// CPU-bound tests that run beside them.
    static func request(_ url: URL, method: String = "GET") throws -> Answer {
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = 10
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<Answer, any Error>?>(nil)
        session.dataTask(with: request) { data, response, error in
            defer { done.signal() }
            guard let response = response as? HTTPURLResponse else {
                result.withLock { $0 = .failure(error ?? ServeTestError("no HTTP response from \(url)")) }
                return
            }
            var headers: [String: String] = [:]
            for (key, value) in response.allHeaderFields {
                headers["\(key)"] = "\(value)"
            }
            let answer = Answer(
                status: response.statusCode, headers: headers, body: String(decoding: data ?? Data(), as: UTF8.self))
            result.withLock { $0 = .success(answer) }
        }.resume()
        done.wait()
        return try result.withLock { $0! }.get()
    }

    /// Whether two JSON documents have the same shape: the same keys at every level, the same
    /// kind of value (a `null` matches anything: the owner is null once the server stopped).
    static func sameShape(_ left: Any, _ right: Any, at path: String = "$") -> [String] {
        if left is NSNull || right is NSNull { return [] }
        switch (left, right) {
        case (let left as [String: Any], let right as [String: Any]):
            guard Set(left.keys) == Set(right.keys) else {
                return ["\(path): keys \(left.keys.sorted()) and \(right.keys.sorted())"]
            }
            return left.keys.sorted().flatMap { sameShape(left[$0]!, right[$0]!, at: "\(path).\($0)") }
        case (let left as [Any], let right as [Any]):
            guard let first = left.first, let other = right.first else { return [] }
            return sameShape(first, other, at: "\(path)[0]")
        case (is String, is String), (is NSNumber, is NSNumber): return []
        default: return ["\(path): \(type(of: left)) and \(type(of: right))"]
        }
    }

    /// A line of the text exposition format 0.0.4: a comment, or `name{labels} value`.
    static var exposedSample: Regex<(Substring, Substring?, Substring?)> {
        /[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? [-+0-9.eEInfNa]+/
    }

    @Test func servesMetricsHealthStatusLagAndJSONErrorsThenStopsOnSIGTERM() throws {
        try withTemporaryDirectory { root in
            let dir = root.appendingPathComponent("cluster").path
            #expect(try CommandLineTests.run(["init", dir, "--replicas", "3", "--durability", "noSync"]).status == 0)
            let server = try Server(directory: dir, ["--workload", "400", "--seed", "3"])
            usleep(700_000)

            let metrics = try Self.request(server.url.appendingPathComponent("metrics"))
            #expect(metrics.status == 200)
            #expect(metrics.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let lines = metrics.body.split(separator: "\n")
            let samples = lines.filter { !$0.hasPrefix("#") }
            #expect(!samples.isEmpty)
            for line in samples {
                #expect(line.wholeMatch(of: Self.exposedSample) != nil, "not an exposition line: \(line)")
            }
            #expect(lines.contains("# TYPE concord_operations_total counter"))
            #expect(lines.contains { $0.hasPrefix("# HELP concord_operations_total ") })
            #expect(lines.contains("# TYPE concord_operation_latency_seconds histogram"))
            #expect(samples.contains { $0.hasPrefix("concord_workload_transactions_total{outcome=\"committed\"}") })
            #expect(samples.contains { $0.hasPrefix("concord_replicas_up 3") })

            let health = try Self.request(server.url.appendingPathComponent("health"))
            #expect(health.status == 200)
            #expect(health.header("Content-Type") == "application/json")
            #expect(["healthy", "degraded"].contains(try health.json()["status"] as? String))

            let status = try Self.request(server.url.appendingPathComponent("cluster/status"))
            #expect(status.status == 200)
            let served = try status.json()
            #expect((served["replicas"] as? [[String: Any]])?.count == 3)
            #expect((served["owner"] as? String)?.contains("process \(server.process.processIdentifier)") == true)
            #expect((served["replicas"] as? [[String: Any]])?.allSatisfy { $0["running"] as? Bool == true } == true)

            let lag = try Self.request(server.url.appendingPathComponent("replication/lag"))
            #expect(lag.status == 200)
            let lagReplicas = try #require(try lag.json()["replicas"] as? [[String: Any]])
            #expect(lagReplicas.count == 3)
            #expect(lagReplicas.allSatisfy { ($0["peers"] as? [[String: Any]])?.count == 2 })

            let missing = try Self.request(server.url.appendingPathComponent("no/such/thing"))
            #expect(missing.status == 404)
            #expect((try missing.json()["error"] as? String)?.contains("/no/such/thing") == true)
            let wrongMethod = try Self.request(server.url.appendingPathComponent("health"), method: "POST")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.header("Allow") == "GET")
            #expect((try wrongMethod.json()["error"] as? String)?.contains("POST") == true)

            // A second server on the same directory is refused, and says who has it.
            let second = try CommandLineTests.run(["serve", dir, "--port", "0"])
            #expect(second.status == 2)
            #expect(second.error.contains("process \(server.process.processIdentifier)"), "\(second.error)")
            #expect(second.error.split(separator: "\n").count == 1, "\(second.error)")

            // Meanwhile the workload went on: its counter has grown.
            usleep(300_000)
            let later = try Self.request(server.url.appendingPathComponent("metrics"))
            #expect(Self.committed(in: later.body) > Self.committed(in: metrics.body))

            let (exitStatus, error) = server.terminate()
            #expect(exitStatus == 0, "\(error)")

            // The directory is closed cleanly: it reopens, verifies, and `concord status --json`
            // prints the document /cluster/status served.
            let printed = try CommandLineTests.json(try CommandLineTests.run(["status", dir, "--json"]).output)
            #expect(Self.sameShape(served, printed).isEmpty, "\(Self.sameShape(served, printed))")
            #expect(printed["owner"] is NSNull)
            #expect(try CommandLineTests.run(["verify", dir]).status == 0)
            #expect(try CommandLineTests.run(["update", dir, "after", "gcounter", "increment", "1"]).status == 0)
        }
    }

    @Test func aPortInUseAndABadDirectoryExitWithTwoAndOneLine() throws {
        try withTemporaryDirectory { root in
            let first = root.appendingPathComponent("first").path
            let other = root.appendingPathComponent("other").path
            #expect(try CommandLineTests.run(["init", first, "--replicas", "1", "--durability", "noSync"]).status == 0)
            #expect(try CommandLineTests.run(["init", other, "--replicas", "1", "--durability", "noSync"]).status == 0)
            let server = try Server(directory: first)
            let port = try #require(server.url.port)
            let taken = try CommandLineTests.run(["serve", other, "--port", "\(port)"])
            #expect(taken.status == 2)
            #expect(taken.error.contains("cannot listen on 127.0.0.1:\(port)"), "\(taken.error)")
            #expect(taken.error.split(separator: "\n").count == 1, "\(taken.error)")
            // It closed the cluster it had opened: the directory is free.
            #expect(try CommandLineTests.run(["update", other, "k", "gcounter", "increment", "1"]).status == 0)

            let absent = try CommandLineTests.run(["serve", root.appendingPathComponent("absent").path])
            #expect(absent.status == 2 && absent.error.split(separator: "\n").count == 1)
            let notACluster = try CommandLineTests.run(["serve", root.path, "--port", "0"])
            #expect(notACluster.status == 2 && notACluster.error.split(separator: "\n").count == 1)
            #expect(try CommandLineTests.run(["serve", first, "--port", "70000"]).status == 2)
            let help = try CommandLineTests.run(["serve", "--help"])
            #expect(help.status == 0 && help.output.contains("Example") && help.output.contains("/metrics"))

            #expect(server.terminate().status == 0)
        }
    }

    /// The workload's committed transactions in an exposition.
    static func committed(in exposition: String) -> Double {
        for line in exposition.split(separator: "\n")
        where line.hasPrefix("concord_workload_transactions_total{outcome=\"committed\"} ") {
            return Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return 0
    }
}
