import LMDB

/// Raw access to a replica's store, to damage it on purpose.
enum LMDBTestAccess {
    static func open(_ path: String) throws -> Environment {
        var options = EnvironmentOptions()
        options.maximumDatabases = 8
        return try Environment.open(path: path, options: options)
    }

    static func putMeta(_ environment: Environment, key: String, value: [UInt8]) throws {
        let meta = try environment.database("meta")
        try environment.write { txn in try txn.put(value, forKey: Array(key.utf8), in: meta) }
    }

    static func putObject(_ environment: Environment, key: [UInt8], value: [UInt8]) throws {
        let objects = try environment.database("objects")
        try environment.write { txn in try txn.put(value, forKey: key, in: objects) }
    }
}
