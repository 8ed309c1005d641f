import Concord
import Foundation
import Testing

/// The README's "Observing changes" example runs: its lines are below, verbatim (the test
/// checks that the README still holds each of them), and what its comments say is checked.
@Suite struct ReadmeExampleTests {
    let checking = Key<PNCounter>("checking")
    let savings = Key<PNCounter>("savings")

    @Test func theObservingChangesExampleRunsAsTheReadmeShowsIt() throws {
        try withCluster { cluster in
            let (a, b) = (cluster.replicas[0], cluster.replicas[1])
            // README: begin
            let likes = Key<PNCounter>("likes", bucket: "posts")
            let changes = a.changes(of: likes).makeAsyncIterator()  // registers; next() awaits, poll() never suspends
            let feed = a.commits(touching: .bucket("posts"), buffer: 256).makeAsyncIterator()
            print(try changes.poll()!.value)  // 0: the initial value comes first
            try a.update(likes, .increment(2))
            try b.update(likes, .increment(3))
            try cluster.synchronize()
            while let change = try changes.poll() {
                print(change.value, change.origin, change.clock)  // 5 remote [r1: 1, r2: 1]: the 2 was coalesced
            }
            while let commit = try feed.poll() { print(commit) }  // commit [r1: 1] (local): posts/likes: PNCounter, …
            let total = a.changes(of: [checking, savings]) { $0.reduce(0, +) }  // several keys, one snapshot
            let token = a.observe(likes) { @MainActor change in print(change.value) }  // on the handler's actor
            // README: end
            token.cancel()
            #expect(try total.makeAsyncIterator().poll()?.value == 0)

            // What the comments say, checked on a second observation of the same history.
            let again = a.changes(of: likes).makeAsyncIterator()
            let replay = a.commits(touching: .bucket("posts"), buffer: 256).makeAsyncIterator()
            #expect(try again.poll()?.value == 5)
            try a.update(likes, .increment(2))
            try b.update(likes, .increment(3))
            try cluster.synchronize()
            let seen = try #require(try again.poll())
            #expect(seen.value == 10 && seen.origin == .remote && "\(seen.clock)" == "[r1: 2, r2: 2]")
            #expect(try again.poll() == nil)
            #expect(try replay.poll()?.description == "commit [r1: 2, r2: 1] (local): posts/likes: PNCounter")
            #expect(try replay.poll()?.description == "commit [r1: 2, r2: 2] (remote): posts/likes: PNCounter")
        }
    }

    @Test func theReadmeHoldsTheExampleVerbatim() throws {
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let readme = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
        let example = try #require(
            source.components(separatedBy: "// README: begin\n").last?.components(separatedBy: "// README: end").first)
        let lines = example.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty
        }
        let section = try #require(readme.components(separatedBy: "## Observing changes").dropFirst().first)
        let block = try #require(
            section.components(separatedBy: "```swift\n").dropFirst().first?
                .components(separatedBy: "```").first)
        let readmeLines = block.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.count == 13)
        #expect(readmeLines == lines, "README's example and this test's differ")
    }
}
