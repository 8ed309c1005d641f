import ArgumentParser
import Concord

@main
struct ConcordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concord",
        abstract: "Concord: an embedded CRDT database. Simulation, backup, status and metrics tools."
    )
}
