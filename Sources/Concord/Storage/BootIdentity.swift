import Foundation

/// Which boot of the machine a replica was opened in.
///
/// Under `.noSync` durability, commits reach the operating system but not the device: a
/// process that dies loses none of them, a machine that goes down (a power loss, a kernel
/// crash) may lose the last ones. A replica records the boot it was opened in and erases it
/// at a clean close; finding another boot's identity at the next opening, it knows commits
/// may be gone — its own among them, which peers may already hold — and recovers before it
/// writes again (see `Bootstrap`).
enum BootIdentity {
    /// This boot of the machine: Linux's `boot_id`; elsewhere (or if it cannot be read) an
    /// identity of this process, so every reopening after an unclean close counts as after
    /// a machine failure (the safe side).
    static let current: String = {
        if let text = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) {
            let identity = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !identity.isEmpty { return identity }
        }
        return "process-" + UUID().uuidString
    }()
}
