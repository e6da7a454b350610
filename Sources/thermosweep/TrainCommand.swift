import ArgumentParser
import Cell
import Foundation
import Thermometer
import Trainer

/// `thermosweep train`: one cell in the foreground, no network.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train one cell (η, |B|, seed) and print its layer temperatures.",
        discussion: """
            Follows the measurement protocol: a warm start (η = 0.05, |B| = 32, 3 epochs by default), \
            burn-in and a measurement window of max(⌈10/η⌉, 500) steps each, noise calibration at 4 \
            points of the window. The same command gives the same numbers, bit for bit (timings aside).
            """)

    @Option(help: ArgumentHelp(ModelKind.help))
    var model: String = ModelKind.lenet816.rawValue

    @Option(parsing: .unconditional, help: "SGD learning rate η.")
    var lr: Double = 0.05

    @Option(parsing: .unconditional, help: "Batch size |B|.")
    var batch: Int = 32

    @Option(parsing: .unconditional, help: "Seed: initial weights, batches and probes all derive from it.")
    var seed: UInt64 = 1

    @OptionGroup(title: "Measurement protocol") var measurement: CellProtocolOptions

    @OptionGroup var dataOptions: DataOptions

    @Flag(help: "Print the result as one JSON record (format thermosweep-cell/1).")
    var json = false

    var modelKind: ModelKind? { try? ModelKind(parsing: model) }

    var spec: CellSpec {
        let cell = measurement.cell
        return CellSpec(model: modelKind ?? .lenet816, learningRate: lr, batchSize: batch, seed: seed,
                        warmStart: measurement.warmStart, settings: cell)
    }

    func validate() throws {
        do throws(ModelError) { _ = try ModelKind(parsing: model) } catch {
            throw ValidationError("--model: \(error)")
        }
        let momenta = try measurement.momenta()
        guard momenta.count == 1 else {
            throw ValidationError("--momentum '\(measurement.momentum)': train measures one cell; give one value "
                                  + "(a list of momenta is an axis of `sweep`).")
        }
        guard try measurement.batchModes().count == 1 else {
            throw ValidationError("--batch-mode '\(measurement.batchMode ?? "")': train measures one cell; give iid or "
                                  + "shuffle (a list of batch modes is an axis of `sweep`).")
        }
        do throws(CellSpecError) { try spec.validate() } catch { throw error.usageError }
    }

    func run() throws {
        let spec = self.spec
        let data: (train: Dataset, test: Dataset)
        do { data = try dataOptions.load(for: spec.model) } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("\(error)")
        }
        let runner = CellRunner(train: data.train, test: data.test)
        let progress = ProgressLine(enabled: !json)
        let start = runner.warmStart(spec.warmStartRun) {
            progress.show($0, $1, $2)
        }
        let result = try runner.run(spec, from: start) { progress.show($0, $1, $2) }
        progress.clear()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(CellReportText(result: result, warmStartSteps: spec.warmStart.steps(trainCount: data.train.count)).render())
        }
    }
}

/// A single updating status line on a terminal (stderr); silent when stderr is not a terminal.
struct ProgressLine {
    let enabled: Bool

    init(enabled: Bool) {
        self.enabled = enabled && isatty(STDERR_FILENO) != 0
    }

    func show(_ phase: CellPhase, _ step: Int, _ total: Int) {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(phase.rawValue): step \(step)/\(total)".utf8))
    }

    func clear() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
