import Concord

/// The check behind the `wire` fuzz target: `WireFormat.validate` must throw `CodecError`
/// or return, never trap, whatever the bytes.
public enum WireCheck {
    /// Validates one input; returns a violation only if a successful validation says
    /// nothing (which would mean it returned without decoding).
    public static func check(_ bytes: [UInt8]) -> FuzzViolation? {
        do {
            let summary = try WireFormat.validate(bytes)
            if summary.isEmpty { return FuzzViolation("validate accepted \(bytes) and returned an empty summary") }
        } catch {
            // A typed `CodecError`: the receiver drops the message, as it should.
        }
        return nil
    }
}
