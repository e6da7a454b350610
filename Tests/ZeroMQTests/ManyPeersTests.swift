// One ROUTER holds hundreds of DEALER peers: ZMQ_MAX_SOCKETS limits sockets, not peers.
import Foundation
import TestSupport
import Testing
import ZeroMQ

@Suite(.ownThread) struct ManyPeersTests {
    /// Raises the soft fd limit to the hard one; returns the resulting soft limit.
    static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = min(limit.rlim_max, 65536)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(limit.rlim_cur)
    }

    @Test func fiveHundredDealersOnOneRouter() throws {
        // Each DEALER costs about three fds here: its mailbox, its connection, the accepted end.
        let peerCount = min(500, (Self.raiseOpenFileLimit() - 100) / 3)
        #expect(peerCount >= 250)
        let coordinator = try Context()
        let router = try Socket(coordinator, .router)
        try router.set(.routerMandatory, true)
        let endpoint = try router.bind("tcp://127.0.0.1:*")

        let workers = try Context(maxSockets: peerCount + 10)
        var dealers: [Socket] = []
        for index in 0..<peerCount {
            let dealer = try connectDealer(workers, id: "w\(index)", to: endpoint)
            try dealer.send([bytes("READY")])
            dealers.append(dealer)
        }
        var seen = Set<[UInt8]>()
        let deadline = ContinuousClock.now + .seconds(5)
        while seen.count < peerCount, ContinuousClock.now < deadline {
            _ = try router.poll(timeout: .milliseconds(50))
            while let message = try router.receive(dontWait: true) { seen.insert(message[0]) }
        }
        #expect(seen.count == peerCount)
        // Every peer is addressable.
        for identity in seen { #expect(try router.send([identity, bytes("JOB")], dontWait: true)) }
        var answered = 0
        for dealer in dealers where try receive(dealer, within: .seconds(2)) == [bytes("JOB")] {
            answered += 1
        }
        #expect(answered == peerCount)
    }
}
