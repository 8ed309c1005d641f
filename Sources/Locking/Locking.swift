// The locks and atomics every Concord module uses: the standard library's `Mutex` and
// `Atomic`, except in a ThreadSanitizer build.
//
// On Linux the standard library's `Mutex` waits on a futex from inside the uninstrumented
// Synchronization module, so ThreadSanitizer sees neither its lock nor its unlock and reports
// every access it guards as a data race (a ten-line program with four threads incrementing a
// dictionary under one `Mutex` shows it with this toolchain). `make tsan` builds with
// `-DCONCORD_TSAN`: `Mutex` is then the pthread mutex below, with the same interface, whose
// lock and unlock ThreadSanitizer intercepts. Modules import `Locking` instead of
// `Synchronization`, so one flag swaps the lock everywhere.

#if CONCORD_TSAN
    @_exported import struct Synchronization.Atomic
    @_exported import struct Synchronization.AtomicLoadOrdering
    @_exported import struct Synchronization.AtomicStoreOrdering
    @_exported import struct Synchronization.AtomicUpdateOrdering
    @_exported import protocol Synchronization.AtomicRepresentable

    #if canImport(Glibc)
        import Glibc
    #elseif canImport(Darwin)
        import Darwin
    #endif

    /// A value guarded by a pthread mutex: the interface of the standard library's `Mutex`
    /// that Concord uses, for ThreadSanitizer builds.
    public final class Mutex<Value>: @unchecked Sendable {
        private let mutex: UnsafeMutablePointer<pthread_mutex_t>
        private var value: Value

        /// A mutex guarding `initialValue`.
        public init(_ initialValue: sending Value) {
            value = initialValue
            mutex = .allocate(capacity: 1)
            mutex.initialize(to: pthread_mutex_t())
            pthread_mutex_init(mutex, nil)
        }

        deinit {
            pthread_mutex_destroy(mutex)
            mutex.deallocate()
        }

        /// Runs `body` with the value, holding the lock.
        public func withLock<Result, Failure: Error>(
            _ body: (inout sending Value) throws(Failure) -> sending Result
        ) throws(Failure) -> sending Result {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return try body(&value)
        }
    }
#else
    @_exported import Synchronization
#endif
