@testable import EdgedService
import EdgeProtocol
import Foundation
import Testing

/// Static pod manifests as kubelet reads them, without a runtime.
@Suite("static pod manifests")
struct StaticPodsTests {
    @Test("names, namespace, uid and annotations as kubelet gives them; other files are problems, not crashes")
    func load() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("static-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: main, image: x}]\n"
            .write(to: directory.appendingPathComponent("web.yaml"), atomically: true, encoding: .utf8)
        try "not: [a pod".write(to: directory.appendingPathComponent("broken.yaml"), atomically: true, encoding: .utf8)
        try "kind: ConfigMap\nmetadata: {name: c}\n".write(to: directory.appendingPathComponent("cm.yml"), atomically: true, encoding: .utf8)
        try "ignored".write(to: directory.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let (pods, problems) = StaticPods.load(directory: directory.path, node: "edge-1", seen: "t")
        #expect(pods.count == 1)
        let pod = try #require(pods.first)
        #expect(pod.string(at: "metadata.name") == "web-edge-1" && pod.string(at: "metadata.namespace") == "default")
        #expect(pod.string(at: "spec.nodeName") == "edge-1")
        #expect(StaticPods.isStatic(pod) && !StaticPods.isMirror(pod))
        let again = StaticPods.load(directory: directory.path, node: "edge-1", seen: "later").pods.first
        #expect(again?.string(at: "metadata.uid") == pod.string(at: "metadata.uid"))  // stable across reads
        #expect(problems.count == 2, "\(problems)")
        let mirror = StaticPods.mirror(of: pod)
        #expect(StaticPods.isMirror(mirror) && mirror.string(at: "metadata.uid") == nil)
    }
}
