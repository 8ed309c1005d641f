import ArgumentParser
import Concord
import ConcordSimulation
import Foundation
import NATSClient

@main
struct ConcordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concord",
        abstract: "Concord: an embedded CRDT database. Operate a cluster directory, or simulate one under faults.",
        discussion: """
            Reading commands (read, status, health, dump-state, show-conflicts, verify, digest, backup \
            create) work while an application owns the directory; commands that write (init, \
            update, sync, gc, compact, wipe, backup restore, serve) need it closed and name the process \
            that holds it otherwise. `replica init` and `replica run` make and serve one member of a \
            cluster whose members are separate processes, replicating through NATS JetStream.
            Exit status: 0 on success, 1 when a check finds a problem (verify, health unhealthy, \
            a failed simulation), 2 on bad usage or input (including a directory that is not a \
            cluster, damaged files, a directory in use, or a NATS server that cannot be reached or \
            refuses the credentials).
            """,
        subcommands: [
            Init.self, Update.self, Read.self, Status.self, HealthCommand.self, DumpState.self, ShowConflicts.self,
            Verify.self, Sync.self, GC.self, Compact.self, Wipe.self, Backup.self, RekeyCommand.self, Audit.self,
            Serve.self, Watch.self, Simulate.self, ReplicaCommand.self, Digest.self,
            WriteLoop.self,
        ]
    )

    /// Parses and runs the command with the exit statuses the discussion promises.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch is CheckFailed {
            Foundation.exit(1)
        } catch let error as ConcordError {
            Terminal.endProgress()
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            Foundation.exit(2)
        } catch let error as UsageError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            Foundation.exit(2)
        } catch let error as NATSError {
            FileHandle.standardError.write(Data("error: NATS: \(error.message) (\(error.kind))\n".utf8))
            Foundation.exit(2)
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data("\(fullMessage(for: error))\n".utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
