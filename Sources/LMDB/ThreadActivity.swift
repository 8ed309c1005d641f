#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the current thread is doing with each environment: how deep it is in `read`, whether it is in
/// `write`. Environments consult it to refuse what would deadlock (a `write` inside a `write`, a map resize
/// while this thread holds a read) instead of hanging.
///
/// One instance per thread, kept in a pthread key and released when the thread exits. Only its own thread
/// touches it, so it needs no lock.
final class ThreadActivity {
    private struct Entry {
        var environment: ObjectIdentifier
        var readDepth: Int
        var isWriting: Bool
    }

    /// Typically one entry per environment the thread uses (see `idleEntriesKept`): a linear
    /// scan beats hashing. Only its own thread touches it (see the type), so the runtime's
    /// exclusivity check, several per read and write, is left out.
    @exclusivity(unchecked) private var entries: ContiguousArray<Entry> = []

    /// The calling thread's instance, created on first use.
    ///
    /// - Complexity: O(1): one `pthread_getspecific`.
    @inline(__always) static var current: ThreadActivity {
        if let pointer = pthread_getspecific(threadActivityKey) {
            return Unmanaged<ThreadActivity>.fromOpaque(pointer).takeUnretainedValue()
        }
        let activity = ThreadActivity()
        let rc = pthread_setspecific(threadActivityKey, Unmanaged.passRetained(activity).toOpaque())
        precondition(rc == 0, "pthread_setspecific failed: \(rc)")
        return activity
    }

    @inline(__always) private func index(of environment: ObjectIdentifier) -> Int? {
        entries.firstIndex { $0.environment == environment }
    }

    func readDepth(in environment: ObjectIdentifier) -> Int {
        index(of: environment).map { entries[$0].readDepth } ?? 0
    }

    func isWriting(in environment: ObjectIdentifier) -> Bool {
        index(of: environment).map { entries[$0].isWriting } ?? false
    }

    /// Whether this thread is inside any `read` or `write` of the environment.
    func isActive(in environment: ObjectIdentifier) -> Bool {
        index(of: environment).map { entries[$0].readDepth > 0 || entries[$0].isWriting } ?? false
    }

    func enterRead(_ environment: ObjectIdentifier) {
        if let index = index(of: environment) {
            entries[index].readDepth += 1
        } else {
            entries.append(Entry(environment: environment, readDepth: 1, isWriting: false))
        }
    }

    func exitRead(_ environment: ObjectIdentifier) {
        guard let index = index(of: environment) else {
            preconditionFailure("exitRead without enterRead")
        }
        entries[index].readDepth -= 1
        removeIfIdle(index)
    }

    func enterWrite(_ environment: ObjectIdentifier) {
        if let index = index(of: environment) {
            assert(!entries[index].isWriting, "enterWrite while writing")
            entries[index].isWriting = true
        } else {
            entries.append(Entry(environment: environment, readDepth: 0, isWriting: true))
        }
    }

    func exitWrite(_ environment: ObjectIdentifier) {
        guard let index = index(of: environment) else {
            preconditionFailure("exitWrite without enterWrite")
        }
        entries[index].isWriting = false
        removeIfIdle(index)
    }

    /// How many entries are kept when idle (no read, no write: the same as no entry). A thread
    /// that reads an environment again and again then finds its entry, instead of appending
    /// and removing it every time (66 of a read's 4,349 instructions in `make
    /// bench-instructions`); one that has touched more environments, as a test run does,
    /// removes the idle entries past these, so its scan stays short.
    private static let idleEntriesKept = 4

    private func removeIfIdle(_ index: Int) {
        if entries[index].readDepth == 0 && !entries[index].isWriting && entries.count > Self.idleEntriesKept {
            entries.remove(at: index)
        }
    }
}

/// The pthread key holding each thread's ``ThreadActivity``; its destructor releases the instance.
let threadActivityKey: pthread_key_t = {
    var key = pthread_key_t()
    let rc = pthread_key_create(&key) { pointer in
        guard let pointer else { return }
        Unmanaged<ThreadActivity>.fromOpaque(pointer).release()
    }
    precondition(rc == 0, "pthread_key_create failed: \(rc)")
    return key
}()
