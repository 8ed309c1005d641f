import FuzzSupport

/// libFuzzer's entry point: the bytes are a whole simulated schedule (operations, faults,
/// crashes); a broken safety or liveness property traps, so libFuzzer saves the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let violation = ClusterCheck.check(bytes) {
        fatalError("cluster: \(violation)")
    }
    return 0
}
