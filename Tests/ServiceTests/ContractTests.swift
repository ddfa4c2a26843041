import EdgeProtocol
import Foundation
import Testing
import TestSupport

/// The bus contract lives in one place: every topic string in `shared/EdgeProtocol/Topics.swift` (and every topic in
/// docs/bus.md). A topic literal anywhere else in the product's sources is a second, unchecked copy of the contract.
@Suite("one contract")
struct ContractTests {
    /// Swift sources of the product (services, shared modules, benchmarks), without generated code.
    static func productSources() throws -> [URL] {
        var files: [URL] = []
        for folder in ["services", "shared", "Benchmarks"] {
            let root = Repository.root.appendingPathComponent(folder)
            guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { continue }
            for case let url as URL in walker where url.pathExtension == "swift" && !url.path.contains("/Generated/") {
                files.append(url)
            }
        }
        return files
    }

    /// String literals that start like one of our topic trees: `ke/…`, KubeEdge's `$hw/…` and `SYS/…`.
    static func topicLiterals(in text: String) -> [String] {
        let pattern = #/"(ke/|\$hw/|SYS/)[^"]*"/#
        return text.matches(of: pattern).map { String($0.output.0) }
    }

    @Test("no topic string literal outside Topics.swift")
    func noTopicLiterals() throws {
        let sources = try Self.productSources()
        #expect(sources.count > 50, "found the sources (\(sources.count))")
        var offenders: [String] = []
        for file in sources where file.lastPathComponent != "Topics.swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                for literal in Self.topicLiterals(in: String(code)) {
                    offenders.append("\(file.path.replacingOccurrences(of: Repository.root.path + "/", with: "")):\(index + 1): \(literal)")
                }
            }
        }
        #expect(offenders.isEmpty, "topic literals outside Topics.swift:\n\(offenders.joined(separator: "\n"))")
        // The check itself finds what it looks for.
        #expect(Self.topicLiterals(in: #"subscribe(["$hw/events/device/+/twin/update", "ke/up"])"#).count == 2)
    }

    @Test("every topic of Topics.swift is in docs/bus.md, and the tables there are whole")
    func busDocument() throws {
        let doc = try String(contentsOf: Repository.root.appendingPathComponent("docs/bus.md"), encoding: .utf8)
        let topics = [
            Topics.status(service: "{service}"), Topics.down(module: "meta"), Topics.down(.twin), Topics.down(.eventbus),
            Topics.down(.servicebus), Topics.up, Topics.hubLink, Topics.hubBacklog, Topics.hubDeadLetter, Topics.metaIn,
            Topics.edgedIn, Topics.twinSpecs, Topics.twinIn, Topics.twinOut, Topics.deviceSpec("{deviceID}"),
            Topics.toNode("{node}"), Topics.fromNode("{node}", .edgecontroller), Topics.fromNode("{node}", .devicecontroller),
            Topics.fromNode("{node}", .router), Topics.fromNode("{node}", .dynamiccontroller), Topics.cloudhubBacklog,
            Topics.cloudhubDeadLetter, Topics.nodeLink("{node}"),
        ]
        for topic in topics { #expect(doc.contains("`\(topic)`"), "docs/bus.md names \(topic)") }
        // A table row is a line starting with `|`; a row right after a blank line starts a table without a header.
        let lines = doc.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() where line.hasPrefix("| `") && index > 0 {
            let previous = lines[index - 1]
            #expect(previous.hasPrefix("|"), "docs/bus.md line \(index + 1) is a table row outside a table: \(line.prefix(40))")
        }
    }
}
