import ArgumentParser
import Concord
import ConcordSimulation
import Foundation

@main
struct ConcordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concord",
        abstract: "Concord: an embedded CRDT database. Simulation, status and maintenance tools.",
        subcommands: [Simulate.self]
    )
}
