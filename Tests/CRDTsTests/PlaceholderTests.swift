import Testing
@testable import CRDTs

@Test func moduleLoads() { #expect(Bool(true)) }
