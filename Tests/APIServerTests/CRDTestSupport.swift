// Test helpers: KubeEdge's manifests (YAML) turned into the JSON kubectl would send, the way kubectl's
// sigs.k8s.io/yaml does it (numbers re-encoded as Go's json does, timestamps kept as text).

import EdgeProtocol
import Foundation
import TestSupport
import Yams

@testable import APIMachinery
@testable import APIServerService

enum CRDTestSupport {
    /// `shared/kubeedge-manifests` (see TestSupport's `Manifests`).
    static let manifests: URL = Manifests.root

    /// The YAML files (sorted) directly in `sub`.
    static func files(_ sub: String) throws -> [URL] {
        let dir = manifests.appendingPathComponent(sub)
        return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "yaml" || $0.pathExtension == "yml" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// Every non-empty document of a YAML file as JSON.
    static func documents(_ url: URL) throws -> [JSONValue] {
        try documents(yaml: String(contentsOf: url, encoding: .utf8))
    }

    static func documents(yaml: String) throws -> [JSONValue] {
        try KubectlYAML.documents(yaml, float: goJSONFloat)
    }

    /// One YAML document as JSON.
    static func document(_ yaml: String) throws -> JSONValue {
        try KubectlYAML.document(yaml, float: goJSONFloat)
    }

    /// What Go's json.Marshal writes for a float64 that came from YAML (`1.0` → `1`).
    static func goJSONFloat(_ d: Double) -> String {
        CRDGoFormat.formatJSON(d)
    }

    /// All CRDs of the manifests, by `metadata.name` and then the file they came from.
    static func crds() throws -> [(file: String, crd: CRDDefinition)] {
        try files("crds").flatMap { url in
            try documents(url).map { (file: url.lastPathComponent, crd: CRDDefinition($0)) }
        }
    }

    /// The CRD serving `apiVersion`/`kind`, preferring the definition that lists the most versions.
    static func crd(apiVersion: String, kind: String) throws -> (CRDDefinition, CRDDefinition.Version)? {
        let parts = apiVersion.split(separator: "/").map(String.init)
        guard parts.count == 2 else { return nil }
        let candidates = try crds().map(\.crd).filter { $0.group == parts[0] && $0.names.kind == kind }
        for crd in candidates.sorted(by: { $0.versions.count > $1.versions.count }) {
            if let version = crd.version(named: parts[1]) { return (crd, version) }
        }
        return nil
    }

    /// Parses JSON text (tests write small objects as JSON).
    static func json(_ text: String) -> JSONValue {
        // Test inputs are literals known to be valid JSON.
        try! JSONValue(parsing: Array(text.utf8))
    }

    /// Compact JSON text.
    static func text(_ value: JSONValue) -> String {
        String(decoding: (try? value.serialized()) ?? [], as: UTF8.self)
    }
}
