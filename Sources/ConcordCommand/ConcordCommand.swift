import ArgumentParser
import Concord
import ConcordSimulation
import Foundation

@main
struct ConcordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concord",
        abstract: "Concord: an embedded CRDT database. Runs seeded simulations of a cluster under faults.",
        subcommands: [Simulate.self]
    )
}
