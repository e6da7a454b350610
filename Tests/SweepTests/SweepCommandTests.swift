import Foundation
import Store
import TestSupport
import Testing

/// `sweep` end to end with local workers: every job once, resume, refusal of another grid, Ctrl-C.
@Suite(.serialized, .ownThread) struct SweepCommandTests {
    static let grid = ["--trivial-ms", "100", "--lr", "0.05:0.2:x2", "--batch", "8:32:x2", "--seeds", "2",
                       "--heartbeat-ms", "100", "--readopt-grace-ms", "500"]

    @Test func trivialSweepWithLocalWorkersEndsEveryJobOnceAndLeavesNoProcess() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let db = scratch.file("runs/sweep.sqlite")
        let sweep = try Spawned(["sweep", "--db", db, "--local-workers", "2"] + Self.grid, outputPrefix: scratch.file("sweep"))
        let status = sweep.wait(timeout: 60)
        #expect(status == 0, "sweep exit \(String(describing: status)): \(sweep.stderr)")
        let store = try Store.openReadOnly(path: db)
        defer { try? store.close() }
        let results = try store.results()
        #expect(results.count == 18)
        #expect(Set(results.map(\.jobId)).count == 18)
        #expect(try store.counts().done == 18)
        #expect(sweep.stdout.contains("18 jobs: 18 done, 0 failed"))
        // Both local workers served jobs, and none outlived the sweep.
        #expect(Set(results.map(\.worker)).count == 2)
        #expect(childWorkers(of: sweep.pid).isEmpty)

        // The same command again: nothing re-runs.
        let again = try Spawned(["sweep", "--db", db, "--local-workers", "2"] + Self.grid, outputPrefix: scratch.file("again"))
        #expect(again.wait(timeout: 30) == 0)
        #expect(again.stderr.contains("18 already ended"))
        #expect(try store.results().map(\.committedAt) == results.map(\.committedAt))
    }

    /// A grid at the limits of the cell contract (the smallest and largest η and |B|, no burn-in,
    /// the shortest window, no warm start) is accepted, and then every one of its jobs ends on the
    /// workers: the limits `sweep` checks are the ones the workers enforce.
    @Test func aGridAtEveryLimitRunsEveryJob() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let db = scratch.file("sweep.sqlite")
        let sweep = try Spawned(["sweep", "--db", db, "--synthetic", "--synthetic-count", "100", "--model", "lenet-4-8",
                                 "--lr", "0.000001,10", "--batch", "1,4096", "--seeds", "1", "--warm-epochs", "0",
                                 "--burn-in-steps", "0", "--measure-steps", "20", "--local-workers", "2", "--quiet"],
                                outputPrefix: scratch.file("sweep"))
        #expect(sweep.wait(timeout: 120) == 0, "\(sweep.stderr)")
        let ended = try counts(db)
        #expect(ended.done == 5 && ended.failed == 0, "\(ended)\n\(sweep.stderr)")
        // The closing summary reads only each result's top level; its hosts' speeds are the ones
        // `status` reads from the whole results.
        let status = try Spawned(["status", "--db", db], outputPrefix: scratch.file("status"))
        #expect(status.wait(timeout: 30) == 0, "\(status.stderr)")
        func hosts(_ text: String) -> [Substring] {  // the header, its rule and this machine's row
            Array(text.split(separator: "\n").drop { !$0.hasPrefix("host") }.prefix(3))
        }
        #expect(hosts(status.stdout).count == 3 && hosts(sweep.stdout) == hosts(status.stdout),
                "\(sweep.stdout)\n\(status.stdout)")
    }

    @Test func anotherGridOnTheSameDatabaseIsRefusedWithTheDifference() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let db = scratch.file("sweep.sqlite")
        let first = try Spawned(["sweep", "--db", db, "--trivial-ms", "0", "--lr", "0.1", "--batch", "8", "--seeds", "1",
                                 "--local-workers", "1"], outputPrefix: scratch.file("first"))
        #expect(first.wait(timeout: 30) == 0)
        // More η values would grow the grid; a job that does something else changes measured results.
        let second = try Spawned(["sweep", "--db", db, "--trivial-ms", "5", "--lr", "0.1,0.2", "--batch", "8", "--seeds", "1"],
                                 outputPrefix: scratch.file("second"))
        #expect(second.wait(timeout: 30) == 2)
        #expect(second.stderr.contains("lr: [0.1] → [0.1, 0.2]") && second.stderr.contains("trivial-ms: 0 → 5"),
                "\(second.stderr)")
        #expect(try counts(db).total == 1)
    }

    @Test func sigintStopsWorkersAndLeavesAResumableDatabase() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let db = scratch.file("sweep.sqlite")
        let args = ["sweep", "--db", db, "--local-workers", "2", "--trivial-ms", "400", "--lr", "0.05:0.2:x2",
                    "--batch", "8:32:x2", "--seeds", "2", "--heartbeat-ms", "100"]
        let sweep = try Spawned(args, outputPrefix: scratch.file("sweep"))
        #expect(eventually(timeout: 30) { ((try? counts(db))?.done ?? 0) >= 2 })
        let workers = childWorkers(of: sweep.pid)
        #expect(workers.count == 2)
        sweep.signal(SIGINT)
        #expect(sweep.wait(timeout: 15) == 130, "\(sweep.stderr)")
        for pid in workers { #expect(kill(pid, 0) != 0, "local worker \(pid) outlived the sweep") }
        let afterStop = try counts(db)
        #expect(afterStop.running == 0, "BYE released the running jobs")
        #expect(afterStop.done < 18)
        let resumed = try Spawned(args, outputPrefix: scratch.file("resumed"))
        #expect(resumed.wait(timeout: 60) == 0)
        #expect(try counts(db).done == 18)
    }
    /// Training keeps both cores busy, so a worker that exits right after queueing its BYE loses it
    /// (the ZeroMQ I/O thread never runs): the jobs would stay `running` until a resume's grace.
    @Test func sigintWhileLocalWorkersTrainReleasesTheirJobs() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let db = scratch.file("sweep.sqlite")
        let args = ["sweep", "--db", db, "--local-workers", "2", "--synthetic", "--synthetic-count", "2000",
                    "--model", "lenet-4-8", "--lr", "0.05,0.1", "--batch", "16,32", "--seeds", "2",
                    "--warm-epochs", "0.2", "--burn-in-steps", "20000", "--measure-steps", "200"]
        for round in 1...3 {
            try? FileManager.default.removeItem(atPath: db)
            let sweep = try Spawned(args, outputPrefix: scratch.file("sweep-\(round)"))
            #expect(eventually(timeout: 60) { ((try? counts(db))?.running ?? 0) == 2 }, "\(sweep.stderr)")
            Thread.sleep(forTimeInterval: 0.3)
            sweep.signal(SIGINT)
            #expect(sweep.wait(timeout: 15) == 130, "\(sweep.stderr)")
            let afterStop = try counts(db)
            #expect(afterStop.running == 0, "round \(round): \(afterStop.running) jobs still running; \(sweep.stderr)")
        }
    }
    /// A worker whose coordinator does not listen names the endpoint and the cause within two
    /// liveness windows (3 s each by default), and keeps trying.
    @Test func aWorkerAtAClosedPortSaysWhy() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // A port that was free a moment ago: bound, then closed.
        let (probe, port) = loopbackTCPSocket()
        close(probe)
        let endpoint = "tcp://127.0.0.1:\(port)"
        let worker = try Spawned(["worker", "--connect", endpoint, "--no-data"], outputPrefix: scratch.file("worker"))
        defer { worker.kill9() }
        #expect(eventually(timeout: 6) { worker.stderr.contains("connection refused: nothing listens on port \(port)") },
                "\(worker.stderr)")
        #expect(worker.stderr.contains("no answer from the coordinator at \(endpoint)"), "\(worker.stderr)")
        #expect(worker.isRunning)
    }
    /// A worker whose peer accepts the connection and hangs up at once (a CURVE coordinator that
    /// read its greeting first, or a proxy with no coordinator behind it, as `ssh -L` or `kubectl
    /// port-forward` while the coordinator is down) says so, names the CURVE options, and keeps trying.
    @Test func aWorkerWhosePeerHangsUpDuringTheHandshakeSaysWhyAndKeepsTrying() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let (listener, port) = loopbackTCPSocket()
        #expect(listen(listener, 16) == 0)
        // Accept and close every connection until the listener is shut down.
        let acceptor = Thread {
            while true {
                let connection = accept(listener, nil, nil)
                if connection < 0 { return }
                close(connection)
            }
        }
        acceptor.start()
        defer { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }
        let endpoint = "tcp://127.0.0.1:\(port)"
        let worker = try Spawned(["worker", "--connect", endpoint, "--no-data", "--heartbeat-ms", "200"],
                                 outputPrefix: scratch.file("worker"))
        defer { worker.kill9() }
        #expect(eventually(timeout: 10) { worker.stderr.contains("the other end hangs up during the ZeroMQ handshake") },
                "\(worker.stderr)")
        #expect(worker.stderr.contains("give it --curve-server-key and --curve-key"), "\(worker.stderr)")
        #expect(worker.isRunning, "a hang-up is not a reason to give up: \(worker.stderr)")
    }
    /// A sweep without local workers that no worker has joined says, after a few seconds, how to
    /// start one: the exact command line for its endpoint and data.
    @Test func aSweepWithoutWorkersSaysHowToAddThem() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let sweep = try Spawned(["sweep", "--db", scratch.file("s.sqlite"), "--trivial-ms", "10", "--lr", "0.1",
                                 "--batch", "8", "--seeds", "1"], outputPrefix: scratch.file("sweep"))
        defer { sweep.kill9() }
        #expect(eventually(timeout: 15) { sweep.stderr.contains("no worker yet: run `thermosweep worker --connect tcp://127.0.0.1:") },
                "\(sweep.stderr)")
        #expect(sweep.stderr.contains(" --no-data` (add --jobs N for N cores), or re-run this command with --local-workers N"),
                "\(sweep.stderr)")
        sweep.signal(SIGINT)
        #expect(sweep.wait(timeout: 15) == 130)
    }
    /// A layer list that does not fit the data, or does not parse, is a usage error naming the
    /// layer and the shapes, before the journal is made or any job runs.
    @Test func badLayerListsAreRefusedBeforeTheSweep() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let cases: [(String, String)] = [
            ("conv5x5:4,relu,maxpool2,conv5x5:8,maxpool9,dense:10",
             "layer 5 'maxpool9' of model conv5x5:4,relu,maxpool2,conv5x5:8,maxpool9,dense:10 pools 9×9 windows, larger than its input 8×8×8"),
            ("conv3x3:4,relu,dense:7", "gives 7 outputs, but the data has 10 classes: end the list with dense:10"),
            ("conv3x3:4,relu,dense:x", "layer 3 'dense:x' of 'conv3x3:4,relu,dense:x' has no whole number"),
        ]
        for (i, (list, message)) in cases.enumerated() {
            let process = try Spawned(["sweep", "--db", scratch.file("\(i).sqlite"), "--synthetic", "--synthetic-count",
                                       "100", "--model", list, "--lr", "0.1", "--batch", "8", "--seeds", "1",
                                       "--local-workers", "1"], outputPrefix: scratch.file("\(i)"))
            let status = process.wait(timeout: 30)
            #expect(status == 64, "\(list): \(process.stderr)")
            #expect(process.stderr.contains(message), "\(process.stderr)")
            #expect(!FileManager.default.fileExists(atPath: scratch.file("\(i).sqlite")), "refused before the journal was made")
        }
    }

    /// What cannot work is said in words before anything runs: a port out of range, an address
    /// this machine does not have, an --out folder that cannot be made.
    @Test func badBindAndOutAreRefusedBeforeTheSweep() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let grid = ["--trivial-ms", "10", "--lr", "0.1", "--batch", "8", "--seeds", "1"]
        func sweep(_ name: String, _ extra: [String]) throws -> (stderr: String, status: Int32?) {
            let process = try Spawned(["sweep", "--db", scratch.file("\(name).sqlite")] + grid + extra,
                                      outputPrefix: scratch.file(name))
            let status = process.wait(timeout: 20)
            return (process.stderr, status)
        }
        let port = try sweep("port", ["--bind", "tcp://127.0.0.1:99999"])
        #expect(port.status == 64)
        #expect(port.stderr.contains("--bind port '99999' of 'tcp://127.0.0.1:99999' is not a number from 0 (any free port) to 65535"),
                "\(port.stderr)")
        let address = try sweep("address", ["--bind", "tcp://192.0.2.1:5555"])
        #expect(address.status == 1)
        #expect(address.stderr.contains("no network interface of this machine has that address"), "\(address.stderr)")
        try Data().write(to: URL(fileURLWithPath: scratch.file("a-file")))
        let out = try sweep("out", ["--out", scratch.file("a-file/exports")])
        #expect(out.status == 64)
        #expect(out.stderr.contains("--out \(scratch.file("a-file/exports")) cannot be created"), "\(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("out.sqlite")), "refused before the journal was made")
    }
}

/// Pids of the running `thermosweep worker` processes whose parent is `parent`.
func childWorkers(of parent: pid_t) -> [pid_t] {
    children(of: parent).filter { pid in
        let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
        return String(decoding: cmdline, as: UTF8.self).contains("worker")
    }
}

/// A TCP socket bound to 127.0.0.1 on a port the kernel chose, and that port.
private func loopbackTCPSocket() -> (socket: Int32, port: UInt16) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let port = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw -> UInt16 in
            _ = bind(fd, raw, length)
            _ = getsockname(fd, raw, &length)
            return UInt16(bigEndian: pointer.pointee.sin_port)
        }
    }
    return (fd, port)
}
