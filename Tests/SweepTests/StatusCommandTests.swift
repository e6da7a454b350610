import Foundation
import Cell
import TestSupport
import Testing

/// `status --db` and `status --connect` against a running sweep; `keygen` files.
@Suite(.serialized, .ownThread) struct StatusCommandTests {
    @Test func statusReadsTheDatabaseAndTheLiveCoordinator() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let db = scratch.file("sweep.sqlite"), endpointFile = scratch.file("endpoint")
        let sweep = try Spawned(["sweep", "--db", db, "--endpoint-file", endpointFile, "--trivial-ms", "60000",
                                 "--lr", "0.1,0.2", "--batch", "8", "--seeds", "3", "--heartbeat-ms", "100"],
                                outputPrefix: scratch.file("sweep"))
        defer { sweep.kill9() }
        let url = try #require(endpoint(in: endpointFile))
        let worker = try Spawned(["worker", "--connect", url, "--no-data", "--name", "w1", "--jobs", "2",
                                  "--heartbeat-ms", "100"], outputPrefix: scratch.file("worker"))
        defer { worker.kill9() }
        #expect(eventually(timeout: 20) { ((try? counts(db))?.running ?? 0) == 2 })
        usleep(500_000)  // a few heartbeats, so that the coordinator knows the jobs' steps

        let live = try Spawned(["status", "--connect", url, "--format", "json"], outputPrefix: scratch.file("live"))
        #expect(live.wait(timeout: 20) == 0, "\(live.stderr)")
        let reply = try #require(try JSONSerialization.jsonObject(with: Data(live.stdout.utf8)) as? [String: Any])
        #expect(reply["total"] as? Int == 6)
        #expect(reply["running"] as? Int == 2)
        let workers = try #require(reply["workers"] as? [[String: Any]])
        #expect(workers.map { $0["name"] as? String } == ["w1"])
        // Each held job with its step counter from the last heartbeat (60 s jobs: 10 ms steps).
        let steps = try #require(workers.first?["steps"] as? [Int])
        #expect(steps.count == 2 && steps.allSatisfy { $0 > 0 }, "\(steps)")

        let table = try Spawned(["status", "--db", db], outputPrefix: scratch.file("table"))
        #expect(table.wait(timeout: 20) == 0)
        #expect(table.stdout.contains("6 jobs: 0 done, 0 failed, 2 running, 4 queued"), "\(table.stdout)")
        #expect(table.stdout.contains("trivial/lr=0.2/b=8/seed=3"))
        #expect(table.stdout.contains("every job with its temperature: thermosweep status --db \(db) --all"))
        #expect(!table.stdout.contains("T (diffusion)"), "the summary leaves the measurement columns out")
        #expect(table.stdout.contains("to resume (add --local-workers N, or start workers):\n  thermosweep sweep --db \(db) "
                                      + "--lr 0.1,0.2 --batch 8 --trivial-ms 60000\n"), "\(table.stdout)")
        let all = try Spawned(["status", "--db", db, "--all"], outputPrefix: scratch.file("all"))
        #expect(all.wait(timeout: 20) == 0)
        #expect(all.stdout.contains("T (diffusion)"))
        let running = try Spawned(["status", "--db", db, "--state", "running"], outputPrefix: scratch.file("running"))
        #expect(running.wait(timeout: 20) == 0)
        #expect(running.stdout.components(separatedBy: " running ").count - 1 == 2, "\(running.stdout)")
        #expect(!running.stdout.contains(" queued "), "\(running.stdout)")
        let bad = try Spawned(["status", "--db", db, "--state", "stuck"], outputPrefix: scratch.file("bad"))
        #expect(bad.wait(timeout: 20) == 64)
        #expect(bad.stderr.contains("--state 'stuck' is not a job state: give one of queued, running, orphaned, done, failed"))

        let json = try Spawned(["status", "--db", db, "--format", "json"], outputPrefix: scratch.file("json"))
        #expect(json.wait(timeout: 20) == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let jobs = try #require(object["jobs"] as? [[String: Any]])
        #expect(jobs.count == 6)
        #expect(object["resumeCommand"] as? String == "thermosweep sweep --db \(db) --lr 0.1,0.2 --batch 8 --trivial-ms 60000")
        #expect(jobs.filter { $0["state"] as? String == "running" }.count == 2)
        #expect(jobs.contains { $0["learningRate"] as? Double == 0.2 && $0["batchSize"] as? Int == 8 && $0["seed"] as? Int == 3 })

        let csv = try Spawned(["status", "--db", db, "--format", "csv"], outputPrefix: scratch.file("csv"))
        #expect(csv.wait(timeout: 20) == 0)
        let lines = csv.stdout.split(separator: "\n")
        #expect(lines.first == "id,key,kind,lr,batch,seed,state,attempt,worker,temperature,temperature_se_ln,test_accuracy,wall_s,diverged,error")
        #expect(lines.count == 7)
        #expect(lines.contains { $0.hasPrefix("6,trivial/lr=0.2/b=8/seed=3,trivial,0.2,8,3,") }, "\(csv.stdout)")
    }

    @Test func statusNamesWhatIsWrong() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let missing = try Spawned(["status", "--db", scratch.file("nothing.sqlite")], outputPrefix: scratch.file("a"))
        #expect(missing.wait(timeout: 20) != 0)
        #expect(missing.stderr.contains("no database at"))
        let silent = try Spawned(["status", "--connect", "tcp://127.0.0.1:1", "--timeout-ms", "300"],
                                 outputPrefix: scratch.file("b"))
        #expect(silent.wait(timeout: 20) != 0)
        #expect(silent.stderr.contains("no answer from tcp://127.0.0.1:1"))
        let both = try Spawned(["status"], outputPrefix: scratch.file("c"))
        #expect(both.wait(timeout: 20) != 0)
        #expect(both.stderr.contains("give either --db PATH or --connect URL"))
    }

    @Test func keygenWritesAPrivateSecretAndAPublicKeyAndNeverOverwrites() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let prefix = scratch.file("coordinator")
        let first = try Spawned(["keygen", "--out", prefix], outputPrefix: scratch.file("k1"))
        #expect(first.wait(timeout: 20) == 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: prefix + ".key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let publicKey = try String(contentsOfFile: prefix + ".pub", encoding: .utf8)
            .split(separator: "\n").last { !$0.hasPrefix("#") }
        #expect(publicKey?.count == 40)
        #expect(first.stdout.contains(String(publicKey ?? "?")))
        let before = try Data(contentsOf: URL(fileURLWithPath: prefix + ".key"))
        let second = try Spawned(["keygen", "--out", prefix], outputPrefix: scratch.file("k2"))
        #expect(second.wait(timeout: 20) != 0)
        #expect(second.stderr.contains("exists; keys are never overwritten"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: prefix + ".key")) == before)
    }

    /// The README's `keygen --out keys/coordinator` on a fresh checkout: the folder is made; a
    /// folder as --out is refused (it would write hidden `.key` and `.pub`).
    @Test func keygenMakesTheFolderAndRefusesAFolderAsPrefix() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let nested = try Spawned(["keygen", "--out", scratch.file("keys/deeper/coordinator")], outputPrefix: scratch.file("k1"))
        #expect(nested.wait(timeout: 20) == 0, "\(nested.stderr)")
        #expect(FileManager.default.fileExists(atPath: scratch.file("keys/deeper/coordinator.pub")))
        for folder in [scratch.file("keys/"), scratch.file("keys")] {
            let refused = try Spawned(["keygen", "--out", folder], outputPrefix: scratch.file("k2"))
            #expect(refused.wait(timeout: 20) == 64)
            #expect(refused.stderr.contains("is a folder; give a file prefix in it"), "\(refused.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("keys/.key")))
    }
}

/// A worker of another release is refused, and both sides' versions are named.
@Test func aWorkerOfAnotherReleaseIsRefusedNamingBothVersions() throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    let db = scratch.file("sweep.sqlite"), endpointFile = scratch.file("endpoint")
    let sweep = try Spawned(["sweep", "--db", db, "--endpoint-file", endpointFile, "--trivial-ms", "0",
                             "--lr", "0.1", "--batch", "8", "--seeds", "1"], outputPrefix: scratch.file("sweep"))
    defer { sweep.kill9() }
    let url = try #require(endpoint(in: endpointFile))
    let worker = try Spawned(["--connect", url, "--announce-release", "9.9.9"], outputPrefix: scratch.file("worker"),
                             executable: Binary.faultWorker)
    defer { worker.kill9() }
    #expect(worker.wait(timeout: 20) == 2)
    #expect(worker.stderr.contains("9.9.9") && worker.stderr.contains(Release.version), "\(worker.stderr)")
    #expect(eventually(timeout: 5) { sweep.stderr.contains("refused") })
    #expect(try counts(db).done == 0)
}

/// A journal whose latest results are only in its WAL (the coordinator was killed) is copied by
/// `backup` into one file that holds them all and resumes like the original.
@Test func backupCopiesTheJournalWithItsWALIntoOneFile() throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    let db = scratch.file("sweep.sqlite"), copy = scratch.file("elsewhere/copy.sqlite")
    let args = ["--trivial-ms", "200", "--lr", "0.1,0.2", "--batch", "8,16", "--seeds", "2", "--local-workers", "2"]
    let sweep = try Spawned(["sweep", "--db", db] + args, outputPrefix: scratch.file("sweep"))
    #expect(eventually(timeout: 30) { ((try? counts(db))?.done ?? 0) >= 3 })
    sweep.kill9()
    _ = sweep.wait(timeout: 10)
    let before = try counts(db)
    #expect(FileManager.default.fileExists(atPath: db + "-wal"), "a killed coordinator leaves its WAL")
    try FileManager.default.createDirectory(atPath: scratch.file("elsewhere"), withIntermediateDirectories: true)
    let backup = try Spawned(["backup", "--db", db, "--to", copy], outputPrefix: scratch.file("backup"))
    #expect(backup.wait(timeout: 20) == 0, "\(backup.stderr)")
    #expect(!FileManager.default.fileExists(atPath: copy + "-wal"), "the copy is one file")
    #expect(try counts(copy).done == before.done)
    let again = try Spawned(["backup", "--db", db, "--to", copy], outputPrefix: scratch.file("again"))
    #expect(again.wait(timeout: 20) != 0)
    #expect(again.stderr.contains("exists; a backup never replaces a file"), "\(again.stderr)")
    // The copy resumes to the end on its own.
    let resumed = try Spawned(["sweep", "--db", copy] + args, outputPrefix: scratch.file("resumed"))
    #expect(resumed.wait(timeout: 60) == 0, "\(resumed.stderr)")
    #expect(try counts(copy).done == 8)
}

/// `fit --format json` lists every group and estimator, or only the one `--estimator` names.
@Test func fitJSONHonoursTheEstimator() throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    let db = scratch.file("sweep.sqlite")
    try FileManager.default.copyItem(atPath: ReleaseFixtureTests.fixture.appendingPathComponent("sweep.sqlite").path, toPath: db)
    func estimators(_ extra: [String]) throws -> Set<String> {
        let fit = try Spawned(["fit", "--db", db, "--format", "json"] + extra,
                              outputPrefix: scratch.file("fit-\(extra.count)"))
        #expect(fit.wait(timeout: 60) == 0, "\(fit.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(fit.stdout.utf8)) as? [String: Any])
        let fits = try #require(object["fits"] as? [[String: Any]])
        return Set(fits.compactMap { $0["estimator"] as? String })
    }
    #expect(try estimators([]) == ["diffusion", "kinetic", "kinetic-sde", "configurational"])
    #expect(try estimators(["--estimator", "kinetic"]) == ["kinetic"])
}

/// `fit --format csv`: one row per group and estimator (the numbers are checked against the
/// fits in ReportTests), `--group` and `--estimator` keep one.
@Test func fitCSVHasARowPerGroupAndEstimator() throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    let db = scratch.file("sweep.sqlite")
    try FileManager.default.copyItem(atPath: ReleaseFixtureTests.fixture.appendingPathComponent("sweep.sqlite").path, toPath: db)
    let csv = try Spawned(["fit", "--db", db, "--format", "csv"], outputPrefix: scratch.file("csv"))
    #expect(csv.wait(timeout: 60) == 0, "\(csv.stderr)")
    let lines = csv.stdout.split(separator: "\n")
    #expect(lines.first?.hasPrefix("group,estimator,cells_used,runs_excluded,a,a_se,") == true)
    let json = try Spawned(["fit", "--db", db, "--format", "json"], outputPrefix: scratch.file("json"))
    #expect(json.wait(timeout: 60) == 0)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    #expect(lines.count - 1 == (object["fits"] as? [Any])?.count)
    let one = try Spawned(["fit", "--db", db, "--format", "csv", "--estimator", "kinetic", "--group", "network"],
                          outputPrefix: scratch.file("one"))
    #expect(one.wait(timeout: 60) == 0)
    #expect(one.stdout.split(separator: "\n").dropFirst().map { $0.prefix(16) } == ["network,kinetic,"])
}

/// One exit status per kind of failure across the commands that read a database: 2 refused input,
/// 1 a file that cannot be written or a coordinator that does not answer, 64 a wrong option.
@Test func theReadingCommandsShareTheirExitStatuses() throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    let missing = scratch.file("missing.sqlite"), garbage = scratch.file("garbage.sqlite")
    try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: garbage))
    let db = scratch.file("sweep.sqlite")
    try FileManager.default.copyItem(atPath: ReleaseFixtureTests.fixture.appendingPathComponent("sweep.sqlite").path, toPath: db)
    let blocker = scratch.file("blocker")
    try Data("a file".utf8).write(to: URL(fileURLWithPath: blocker))
    func run(_ arguments: [String]) throws -> (status: Int32?, stderr: String) {
        let process = try Spawned(arguments, outputPrefix: scratch.file(arguments.joined().filter(\.isLetter)))
        return (process.wait(timeout: 60), process.stderr)
    }
    let readers: [(String) -> [String]] = [
        { ["status", "--db", $0] }, { ["fit", "--db", $0] }, { ["export", "--db", $0, "--out", scratch.file("x")] },
        { ["report", "--db", $0, "--out", scratch.file("r.html")] }, { ["backup", "--db", $0, "--to", scratch.file("b")] },
    ]
    for reader in readers {
        let none = try run(reader(missing))
        #expect(none.status == 2 && none.stderr.contains("no database at \(missing)"), "\(reader(missing)): \(none)")
        let foreign = try run(reader(garbage))
        #expect(foreign.status == 2 && foreign.stderr.contains("not an SQLite database"), "\(reader(garbage)): \(foreign)")
    }
    let group = try run(["fit", "--db", db, "--group", "conv9.weight"])
    #expect(group.status == 2 && group.stderr.contains("unknown group 'conv9.weight'"), "\(group)")
    let unwritable = try run(["export", "--db", db, "--out", blocker + "/exports"])
    #expect(unwritable.status == 1 && unwritable.stderr.contains(blocker), "\(unwritable)")
    let silent = try run(["status", "--connect", "tcp://127.0.0.1:9", "--timeout-ms", "300"])
    #expect(silent.status == 1 && silent.stderr.contains("no answer from tcp://127.0.0.1:9"), "\(silent)")
    let usage = try run(["fit", "--db", db, "--format", "xml"])
    #expect(usage.status == 64)
}
