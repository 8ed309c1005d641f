/// libFuzzer's entry point for the NATS frame parser: a broken law traps, so libFuzzer
/// saves the input as a crasher. `NATSParserCheck.swift` links to the copy NATSClientTests
/// replays.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let violation = NATSParserCheck.check(bytes) {
        fatalError("nats: \(violation)")
    }
    return 0
}
