// One call for what `export`, `report` and the end of `sweep` write.
import Foundation
import ScalingLaw
import Cell

/// A loaded sweep and all its fits: what every export and the report are made from.
public struct SweepAnalysis: Sendable {
    public let data: SweepData
    public let fits: SweepFits

    /// Loads the journal and fits every group × estimator.
    public init(storePath: String, policy: ExclusionPolicy = ExclusionPolicy()) throws(ReportError) {
        data = try SweepData.load(storePath: storePath)
        fits = SweepFits(data, policy: policy)
    }

    /// An analysis of data already loaded.
    public init(data: SweepData, fits: SweepFits) {
        self.data = data
        self.fits = fits
    }

    /// The whole-network line of the default estimator.
    public var summaryLine: String { Report.summaryLine(fits) }

    /// The fits.json document.
    public var document: FitsDocument { Exports.document(data, fits) }

    /// Writes cells.csv, filters.csv and fits.json into `folder` (created if needed), each
    /// atomically; returns their paths.
    public func writeExports(to folder: String) throws(ReportError) -> [String] {
        try OutputFiles.makeFolder(folder)
        let cells = path(folder, "cells.csv"), filters = path(folder, "filters.csv"), json = path(folder, "fits.json")
        try OutputFiles.write(Array(Exports.cellsCSV(data, fits).utf8), to: cells)
        try OutputFiles.write(Array(Exports.filtersCSV(data).utf8), to: filters)
        try OutputFiles.write(try Exports.fitsJSON(document), to: json)
        return [cells, filters, json]
    }

    /// Writes the HTML report to `file` atomically (its folder must exist or is created).
    public func writeReport(to file: String) throws(ReportError) {
        let folder = (file as NSString).deletingLastPathComponent
        if !folder.isEmpty { try OutputFiles.makeFolder(folder) }
        try OutputFiles.write(Array(HTMLReport(self).render().utf8), to: file)
    }

    /// The HTML report as text.
    public func html() -> String { HTMLReport(self).render() }

    /// The fits as CSV, one row per group and estimator (what `fit --format csv` prints).
    public func fitsCSV() -> String { Exports.fitsCSV(fits.fits) }

    /// The fits as JSON text (what `fit --format json` prints).
    public func fitsJSON() throws(ReportError) -> String {
        String(decoding: try Exports.fitsJSON(document), as: UTF8.self)
    }
}

/// What `sweep --out DIR` calls when the grid completes.
public enum ReportWriter {
    /// Writes cells.csv, filters.csv, fits.json and report.html into `outDirectory`; returns the
    /// paths written.
    public static func writeAll(storePath: String, outDirectory: String) throws -> [String] {
        try writeAllReturningSummary(storePath: storePath, outDirectory: outDirectory).files
    }

    /// As `writeAll`, and the whole-network line, from one set of fits (no second fit for the line).
    public static func writeAllReturningSummary(storePath: String, outDirectory: String) throws(ReportError)
        -> (files: [String], summaryLine: String)
    {
        let analysis = try SweepAnalysis(storePath: storePath)
        var files = try analysis.writeExports(to: outDirectory)
        let html = path(outDirectory, "report.html")
        try analysis.writeReport(to: html)
        files.append(html)
        return (files, analysis.summaryLine)
    }
}

private func path(_ folder: String, _ name: String) -> String {
    folder.hasSuffix("/") ? folder + name : folder + "/" + name
}
