import Testing
@testable import LMDB

@Test func moduleLoads() { #expect(Bool(true)) }
