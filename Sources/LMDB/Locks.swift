#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A plain pthread mutex, for locks held across a caller's closure (where `Mutex.withLock`'s `sending`
/// result would get in the way of a generic result).
final class PlainMutex: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always) func lock() {
        let rc = pthread_mutex_lock(mutex)
        assert(rc == 0, "pthread_mutex_lock failed: \(rc)")
    }

    @inline(__always) func unlock() {
        let rc = pthread_mutex_unlock(mutex)
        assert(rc == 0, "pthread_mutex_unlock failed: \(rc)")
    }

    @inline(__always) func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A pthread read-write lock. The platform default prefers readers, which this module relies on: a thread
/// that already holds the lock shared may take it shared again while an exclusive locker waits.
final class ReadWriteLock: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_rwlock_t())
        let rc = pthread_rwlock_init(lock, nil)
        precondition(rc == 0, "pthread_rwlock_init failed: \(rc)")
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    @inline(__always) func lockShared() {
        let rc = pthread_rwlock_rdlock(lock)
        precondition(rc == 0, "pthread_rwlock_rdlock failed: \(rc)")
    }

    @inline(__always) func lockExclusive() {
        let rc = pthread_rwlock_wrlock(lock)
        precondition(rc == 0, "pthread_rwlock_wrlock failed: \(rc)")
    }

    @inline(__always) func unlock() {
        let rc = pthread_rwlock_unlock(lock)
        assert(rc == 0, "pthread_rwlock_unlock failed: \(rc)")
    }
}
