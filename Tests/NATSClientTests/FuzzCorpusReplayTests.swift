import Foundation
import Testing

/// Replays every committed seed and crasher of the `nats` fuzz target through the check
/// the fuzzer runs (`NATSParserCheck`), so `make test` catches a regression without a
/// fuzzer.
@Suite struct FuzzCorpusReplayTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func files(_ folder: String) throws -> [URL] {
        let directory = fuzzDirectory.appendingPathComponent(folder)
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test func corpusAndRegressionsKeepTheLaws() throws {
        let corpus = try Self.files("Corpus/nats")
        #expect(corpus.count >= 5, "the seed corpus Fuzz/Corpus/nats is missing")
        for file in try corpus + Self.files("Regressions/nats") {
            let bytes = [UInt8](try Data(contentsOf: file))
            #expect(NATSParserCheck.check(bytes) == nil, "\(file.path)")
        }
    }
}
