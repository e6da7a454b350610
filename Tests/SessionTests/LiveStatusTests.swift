import Foundation
import Session
import SweepProtocol
import Synchronization
import Testing
import TestSupport
import ZeroMQ

/// `status --connect` against a coordinator of another protocol (another release): it says so at
/// once instead of waiting out its timeout and blaming the address.
@Suite(.ownThread) struct LiveStatusTests {
    final class Answer: Sendable {
        let text = Mutex<String?>(nil)
    }

    @Test func aCoordinatorOfAnotherProtocolIsNamed() throws {
        let context = try Context()
        let router = try Socket(context, .router)
        defer { router.close() }
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        let answer = Answer()
        let started = ContinuousClock.now
        Thread {
            let text: String
            do {
                text = "answered: \(try LiveStatus.ask(endpoint: endpoint, timeout: .seconds(5), curve: nil))"
            } catch {
                text = "\(error)"
            }
            answer.text.withLock { $0 = text }
        }.start()
        // The other coordinator answers what it cannot read in its own tag (ERROR malformed).
        #expect(try router.poll(.readable, timeout: .seconds(3)).contains(.readable))
        let frames = try #require(try router.receive())
        #expect(try router.send([frames[0], Array("TSW9".utf8), Array("ERROR".utf8), Array("{}".utf8)]))
        while answer.text.withLock({ $0 }) == nil && ContinuousClock.now - started < .seconds(8) {
            Thread.sleep(forTimeInterval: 0.01)
        }
        let text = try #require(answer.text.withLock { $0 })
        #expect(text.contains("speaks another protocol") && text.contains("'TSW9'") && text.contains(Wire.versionTag), "\(text)")
        #expect(ContinuousClock.now - started < .seconds(4))
    }
}
