/// The name of an object: a bucket and a key within it, like AntidoteDB's bound object
/// `{Key, Type, Bucket}`, with the type carried by the Swift type parameter.
///
/// ```swift
/// let likes = Key<PNCounter>("likes", bucket: "posts")
/// ```
public struct Key<T: CRDT>: Hashable, Sendable, CustomStringConvertible {
    /// The key within the bucket.
    public let name: String
    /// The bucket.
    public let bucket: String
    /// The storage name (bucket, name), encoded once.
    let object: ObjectKey

    /// Names the object `name` in `bucket` (default bucket: `"default"`).
    public init(_ name: String, bucket: String = "default") {
        self.name = name
        self.bucket = bucket
        self.object = ObjectKey(bucket: bucket, name: name, type: T.typeCode)
    }

    /// `bucket/name: Type`.
    public var description: String { "\(bucket)/\(name): \(T.typeCode)" }
}
