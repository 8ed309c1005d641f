import ArgumentParser
import Concord
import ConcordReports
import Foundation

/// `concord show-conflicts`.
struct ShowConflicts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the conflicts the replicas recorded, and the registers holding several values now.",
        discussion: """
            What users of the seed call conflicts, in CRDT terms: an MVRegister holding more than \
            one value, an LWW assignment that lost to a concurrent one, an add and a remove of one \
            set element that were concurrent, a BoundedCounter operation refused for lack of \
            rights. Each replica records them as it joins its peers' updates (the newest \
            Configuration.conflictRecordBound of them). Works while another process owns the \
            directory.
            Example:
              concord show-conflicts DIR --json
            """)

    @OptionGroup var target: DirectoryArgument
    @OptionGroup var output: JSONFlag

    func run() throws {
        let conflicts = try target.reader().conflicts()
        if output.json {
            print(JSON.object([("conflicts", .array(conflicts.map { .inspected($0.inspected) }))]).text)
            return
        }
        if conflicts.isEmpty { print("no conflicts recorded") }
        for conflict in conflicts { print(conflict.description) }
    }
}
