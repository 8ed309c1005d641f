import Concord
import Foundation
import Testing

/// Replays, without libFuzzer, every input committed under `Fuzz/Regressions/<target>/`
/// (each a crash or law violation a fuzzer once found) and every seed under
/// `Fuzz/Corpus/<target>/`, through the same checks the fuzz targets run (the
/// `FuzzSupport` folder, which `Fuzz/` links to). Each must now throw a typed error or
/// pass every law: never trap, never break a law.
@Suite struct FuzzRegressionTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz")

    /// The committed inputs of one target, as (relative path, bytes), sorted by path.
    static func inputs(_ target: String) -> [(name: String, bytes: [UInt8])] {
        var inputs: [(name: String, bytes: [UInt8])] = []
        for folder in ["Regressions", "Corpus"] {
            let directory = fuzzDirectory.appendingPathComponent(folder).appendingPathComponent(target)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path)
                else {
                    continue
                }
                inputs.append(("\(folder)/\(target)/\(name)", Array(data)))
            }
        }
        return inputs
    }

    static func replay(_ target: String, _ check: ([UInt8]) -> FuzzViolation?) {
        let inputs = inputs(target)
        #expect(!inputs.isEmpty, "no committed inputs for \(target) under \(fuzzDirectory.path)")
        for input in inputs {
            // `known-…` files are findings not fixed yet: replayed as known issues, so the
            // test says so when a fix makes them pass (then drop the prefix).
            if input.name.contains("/known-") {
                withKnownIssue("\(input.name) is an open finding") {
                    if let violation = check(input.bytes) { Issue.record("\(input.name): \(violation)") }
                }
            } else if let violation = check(input.bytes) {
                Issue.record("\(input.name): \(violation)")
            }
        }
    }

    @Test func decoderRegressionsThrowOrRoundTrip() { Self.replay("decoders", DecoderCheck.check) }

    @Test func wireRegressionsThrowOrDecode() { Self.replay("wire", WireCheck.check) }

    @Test func operationRegressionsKeepTheLaws() { Self.replay("operations", OperationsInterpreter.run) }

    @Test func clusterSchedulesConverge() { Self.replay("cluster", ClusterCheck.check) }

    @Test func sealedRecordsThatAreNotGenuineNeverOpen() { Self.replay("sealed", SealedCheck.check) }

    /// The decoder seeds are valid encodings (a seed that no longer decodes starts the
    /// fuzzer at the first check again: regenerate with `make -C Fuzz corpus`).
    @Test func decoderSeedsDecode() throws {
        for input in Self.inputs("decoders") where input.name.contains("serialized") {
            #expect(throws: Never.self, "\(input.name)") {
                _ = try CRDTRegistry.decode(serialized: Array(input.bytes.dropFirst()))
            }
        }
    }

    /// Every built-in type is both decoded and operated on by the fuzzers.
    @Test func fuzzersCoverEveryBuiltInType() {
        let decoded = Set(DecoderCheck.types.map { $0.typeCode })
        let operated = Set(fuzzableTypes.map { $0.typeCode })
        #expect(decoded.count == 33)
        #expect(decoded == operated)
    }

    /// Rewrites the committed seed corpora from `SeedCorpus`; runs only when asked
    /// (`make -C Fuzz corpus` sets `CONCORD_WRITE_FUZZ_SEEDS=1`), since it writes into the
    /// source tree.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CONCORD_WRITE_FUZZ_SEEDS"] == "1"))
    func writeSeedCorpora() throws {
        let corpora = [
            ("decoders", SeedCorpus.decoders()), ("wire", SeedCorpus.wire()), ("operations", SeedCorpus.operations()),
        ]
        for (target, files) in corpora {
            let directory = Self.fuzzDirectory.appendingPathComponent("Corpus").appendingPathComponent(target)
            try? FileManager.default.removeItem(at: directory)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for file in files { try Data(file.bytes).write(to: directory.appendingPathComponent(file.name)) }
        }
    }
}
