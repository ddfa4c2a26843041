import EdgeProtocol
import Foundation
import YAMLJSON

/// Static pods (kubelet's `staticPodPath`): Pod manifests in a directory that edged runs on its own, with or without
/// the cloud, named and annotated as kubelet names them, and shown in the API as mirror pods once the node is
/// connected. Pure apart from reading the directory.
enum StaticPods {
    static let sourceAnnotation = "kubernetes.io/config.source"
    static let hashAnnotation = "kubernetes.io/config.hash"
    static let seenAnnotation = "kubernetes.io/config.seen"
    static let mirrorAnnotation = "kubernetes.io/config.mirror"

    /// The directory's pods (`*.yaml`, `*.yml`, `*.json`, hidden files skipped), and a problem per file that is not
    /// a pod manifest.
    static func load(directory: String, node: String, seen: String) -> (pods: [JSONValue], problems: [String]) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        var pods: [JSONValue] = []
        var problems: [String] = []
        for name in names where !name.hasPrefix(".") && [".yaml", ".yml", ".json"].contains(where: name.hasSuffix) {
            let path = directory + "/" + name
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                problems.append("\(path): unreadable")
                continue
            }
            do {
                for document in try YAMLDocuments.load(text) where !document.isNull {
                    switch normalize(document, node: node, seen: seen) {
                    case .success(let pod): pods.append(pod)
                    case .failure(let problem): problems.append("\(path): \(problem.description)")
                    }
                }
            } catch {
                problems.append("\(path): not YAML or JSON: \(error)")
            }
        }
        return (pods, problems)
    }

    /// kubelet's treatment of a static pod: its name gets `-<node>`, its namespace defaults to `default`, its uid is a
    /// hash of the manifest and the node (the same manifest always makes the same pod), and it is bound to the node.
    static func normalize(_ document: JSONValue, node: String, seen: String) -> Result<JSONValue, EdgedError> {
        guard document["kind"]?.stringValue == "Pod" else {
            return .failure(EdgedError("not a Pod (kind \(document["kind"]?.stringValue ?? "none"))"))
        }
        guard let name = document["metadata"]?["name"]?.stringValue, !name.isEmpty else {
            return .failure(EdgedError("a Pod without metadata.name"))
        }
        guard let containers = document["spec"]?["containers"]?.arrayValue, !containers.isEmpty else {
            return .failure(EdgedError("pod \(name) has no containers"))
        }
        let hash = uid(of: ((try? document.serialized()) ?? []) + Array(node.utf8))
        var pod = document
        pod[member: "apiVersion"] = "v1"
        var metadata = pod["metadata"] ?? .object([])
        metadata[member: "name"] = .string("\(name)-\(node)")
        if metadata["namespace"]?.stringValue?.isEmpty ?? true { metadata[member: "namespace"] = "default" }
        metadata[member: "uid"] = .string(hash)
        var annotations = metadata["annotations"] ?? .object([])
        annotations[member: sourceAnnotation] = "file"
        annotations[member: hashAnnotation] = .string(hash)
        annotations[member: seenAnnotation] = .string(seen)
        metadata[member: "annotations"] = annotations
        pod[member: "metadata"] = metadata
        var spec = pod["spec"] ?? .object([])
        spec[member: "nodeName"] = .string(node)
        pod[member: "spec"] = spec
        pod[member: "status"] = nil
        return .success(pod)
    }

    /// The mirror pod the API gets for a static pod: the same pod, its hash as the mirror annotation, no uid.
    static func mirror(of pod: JSONValue) -> JSONValue {
        var mirror = pod
        let hash = pod["metadata"]?["annotations"]?[hashAnnotation]?.stringValue ?? ""
        mirror[member: "kind"] = "Pod"
        mirror[path: ["metadata", "annotations", mirrorAnnotation]] = .string(hash)
        mirror[path: ["metadata", "uid"]] = nil
        mirror[path: ["metadata", "resourceVersion"]] = nil
        return mirror
    }

    static func isStatic(_ pod: JSONValue) -> Bool { pod["metadata"]?["annotations"]?[sourceAnnotation]?.stringValue == "file" }
    static func isMirror(_ pod: JSONValue) -> Bool { pod["metadata"]?["annotations"]?[mirrorAnnotation] != nil }

    /// A stable uid-shaped hash (FNV-1a, two seeds) of the manifest: kubelet uses the manifest's hash the same way.
    static func uid(of bytes: [UInt8]) -> String {
        func fnv(_ seed: UInt64) -> UInt64 {
            var hash = seed
            for byte in bytes {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01b3
            }
            return hash
        }
        let hex = [fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4)]
            .map { value in String(repeating: "0", count: 16 - String(value, radix: 16).count) + String(value, radix: 16) }
            .joined()
        let chars = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(chars[$0]) }.joined(separator: "-")
    }
}
