import ArgumentParser
import Concord
import Foundation

/// `concord rekey`.
struct RekeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rekey",
        abstract: "Move every store of a cluster to a new key (or encrypt a plain cluster).",
        discussion: """
            The directory must not be open in another process. Every record is opened with the \
            old key and sealed with the new one, then each store is compacted so that no free \
            page keeps an old record. Killed half way, nothing is lost: run the same command \
            again to finish; until then the directory refuses to open.
            Examples:
              head -c 32 /dev/urandom > new.key
              concord rekey DIR --from old.key --to new.key
              concord rekey DIR --to new.key          # encrypt a plain cluster
            """)

    @Argument(help: "The cluster directory.", completion: .directory) var directory: String
    @Option(help: "The current key file (leave out for a plain cluster).") var from: String?
    @Option(help: "The new key file (32 raw bytes).") var to: String
    @Option(help: "A name for the new key (default: its fingerprint).") var keyID: String?

    func run() throws {
        let url = URL(fileURLWithPath: directory)
        let manifest = try ClusterDirectory.readManifest(at: url)
        let old = try from.map { try Encryption(keyFile: URL(fileURLWithPath: $0), keyID: manifest.encryptionKeyID) }
        let new = try Encryption(keyFile: URL(fileURLWithPath: to), keyID: keyID)
        let report = try Cluster.rekey(directoryAt: url, from: old, to: new, progress: Terminal.progressReporter)
        Terminal.endProgress()
        let resealed = report.resealed.values.reduce(0, +)
        let moved = report.alreadyMoved.values.reduce(0, +)
        print(
            "rekeyed \(report.resealed.count) stores to key '\(new.keyID)': \(resealed) records resealed"
                + (moved > 0 ? ", \(moved) moved by an earlier run" : ""))
    }
}
