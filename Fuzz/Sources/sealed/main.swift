import FuzzSupport

/// libFuzzer's entry point: a finding traps, so libFuzzer saves the input as a crasher.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let violation = SealedCheck.check(bytes) {
        fatalError("sealed: \(violation)")
    }
    return 0
}
