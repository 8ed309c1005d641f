import Testing
@testable import Concord

@Test func moduleLoads() { #expect(Bool(true)) }
