import ArgumentParser
import Concord
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where commands write: results to standard output, progress and errors to standard error.
enum Terminal {
    /// Whether standard error is a terminal (progress lines are shown only then).
    static let showsProgress = isatty(STDERR_FILENO) == 1

    /// Prints a progress line over the previous one, on a terminal only.
    static func progress(_ message: String) {
        guard showsProgress else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(message)…".utf8))
    }

    /// Clears the progress line.
    static func endProgress() {
        guard showsProgress else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    /// The progress callback the library's long operations take, or nil when piped.
    static var progressReporter: ((String) -> Void)? { showsProgress ? { progress($0) } : nil }
}

/// A check found a problem: exit status 1 (the report is printed already).
struct CheckFailed: Error {}

/// Bad usage or input found while running (after parsing): exit status 2 with a one-line
/// message.
struct UsageError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// A size in bytes, for people.
func formatBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}

/// A vector clock for people: `{1: 5, 2: 3}`.
func formatClock(_ clock: VectorClock) -> String {
    "{" + clock.entries.map { "\($0.replica.label): \($0.counter)" }.joined(separator: ", ") + "}"
}

/// A table with left-aligned columns.
func formatTable(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}
