// The LMDB module: see Environment.swift.
