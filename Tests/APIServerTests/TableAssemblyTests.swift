import EdgeProtocol
import Foundation
import Testing

@testable import APIMachinery
@testable import APIServerService

@Suite struct TableAssemblyTests {
    static let configMap = json(
        """
        {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"default","uid":"u-1",
          "resourceVersion":"41","creationTimestamp":"2026-11-22T11:59:00Z","labels":{"a":"b"}},"data":{"k":"v"}}
        """)

    @Test func listTableShape() {
        let table = TablePrinter.table(
            kind: "ConfigMap", group: "", objects: [Self.configMap], resourceVersion: "42", continueToken: "tok",
            remainingItemCount: 7, includeObject: .metadata, includeColumns: true, now: tableNow)
        let name = TablePrinter.columns(forKind: "ConfigMap", group: "")[0].description
        let data = TablePrinter.columns(forKind: "ConfigMap", group: "")[1].description
        let age = TablePrinter.columns(forKind: "ConfigMap", group: "")[2].description
        let expected = JSONValue.object([
            (key: "kind", value: "Table"),
            (key: "apiVersion", value: "meta.k8s.io/v1"),
            (key: "metadata", value: ["resourceVersion": "42", "continue": "tok", "remainingItemCount": 7]),
            (
                key: "columnDefinitions",
                value: [
                    ["name": "Name", "type": "string", "format": "name", "description": .string(name), "priority": 0],
                    ["name": "Data", "type": "string", "format": "", "description": .string(data), "priority": 0],
                    ["name": "Age", "type": "string", "format": "", "description": .string(age), "priority": 0],
                ]
            ),
            (
                key: "rows",
                value: [
                    [
                        "cells": ["cfg", 1, "60s"],
                        "object": [
                            "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                            "metadata": Self.configMap["metadata"]!,
                        ],
                    ]
                ]
            ),
        ])
        #expect(table == expected)
        #expect(text(table).hasPrefix(#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"42","continue":"tok","remainingItemCount":7},"columnDefinitions":[{"name":"Name","type":"string","format":"name","description":"Name must be unique"#))
    }

    @Test func includeObjectVariants() {
        func row(_ include: IncludeObject) -> JSONValue? {
            TablePrinter.table(kind: "ConfigMap", group: "", object: Self.configMap, includeObject: include, now: tableNow)[
                "rows"]?.arrayValue?.first
        }
        #expect(row(.object)?["object"] == Self.configMap)
        #expect(row(.none)?["object"] == .null)
        #expect(row(.none).map(text) == #"{"cells":["cfg",1,"60s"],"object":null}"#)
        let partial = row(.metadata)?["object"]
        #expect(partial?["kind"] == "PartialObjectMetadata")
        #expect(partial?["apiVersion"] == "meta.k8s.io/v1")
        #expect(partial?["metadata"] == Self.configMap["metadata"])
        #expect(partial?["data"] == nil)

        // Metadata without creationTimestamp gets Go's explicit null.
        let bare = TablePrinter.table(
            kind: "ConfigMap", group: "", object: json(#"{"metadata":{"name":"x"}}"#), includeObject: .metadata,
            now: tableNow)
        #expect(
            bare["rows"]?.arrayValue?.first?["object"]
                == json(#"{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"x","creationTimestamp":null}}"#))

        let v1beta1 = TablePrinter.table(
            kind: "ConfigMap", group: "", object: Self.configMap, now: tableNow, metaVersion: "v1beta1")
        #expect(v1beta1["apiVersion"] == "meta.k8s.io/v1beta1")
        #expect(v1beta1["rows"]?.arrayValue?.first?["object"]?["apiVersion"] == "meta.k8s.io/v1beta1")

        #expect(IncludeObject.parse(nil) == .metadata)
        #expect(IncludeObject.parse("") == .metadata)
        #expect(IncludeObject.parse("None") == IncludeObject.none)
        #expect(IncludeObject.parse("Object") == .object)
        #expect(IncludeObject.parse("object") == nil)
    }

    @Test func singleObjectAndWatchEvents() {
        let first = TablePrinter.table(kind: "ConfigMap", group: "", object: Self.configMap, now: tableNow)
        #expect(first["metadata"] == ["resourceVersion": "41"])
        #expect(first["columnDefinitions"]?.arrayValue?.count == 3)
        #expect(first["rows"]?.arrayValue?.count == 1)
        let later = TablePrinter.table(
            kind: "ConfigMap", group: "", object: Self.configMap, includeColumns: false, now: tableNow)
        #expect(later["columnDefinitions"] == .null)
        let event = TablePrinter.watchEvent(type: "MODIFIED", table: later)
        #expect(text(event).hasPrefix(#"{"type":"MODIFIED","object":{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"41"},"columnDefinitions":null,"rows":[{"cells":["cfg",1,"60s"]"#))
    }

    @Test func emptyLists() {
        let pods = TablePrinter.table(
            kind: "Pod", group: "", objects: [], resourceVersion: "9", includeColumns: true, now: tableNow)
        #expect(pods["rows"] == .array([]))
        #expect(pods["metadata"] == ["resourceVersion": "9"])
        #expect(pods["columnDefinitions"]?.arrayValue?.count == 9)
        // kube's default convertor leaves rows nil for an empty list.
        let crds = TablePrinter.table(
            kind: "CustomResourceDefinition", group: "apiextensions.k8s.io", objects: [], resourceVersion: "",
            now: tableNow)
        #expect(crds["rows"] == .null)
        #expect(crds["metadata"] == .object([]))
    }

    @Test func defaultConvertor() {
        #expect(!TablePrinter.hasPrinter(kind: "CustomResourceDefinition", group: "apiextensions.k8s.io"))
        #expect(!TablePrinter.hasPrinter(kind: "ClusterRole", group: "rbac.authorization.k8s.io"))
        let columns = TablePrinter.columns(forKind: "CustomResourceDefinition", group: "apiextensions.k8s.io")
        #expect(columns.map(\.name) == ["Name", "Created At"])
        #expect(columns.map(\.type) == ["string", "date"])
        #expect(columns.map(\.format) == ["name", ""])
        #expect(columns[1].description.hasPrefix("CreationTimestamp is a timestamp"))
        let crd = json(
            #"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"devices.devices.kubeedge.io","creationTimestamp":"2026-01-02T03:04:05+01:00"}}"#
        )
        #expect(
            TablePrinter.cells(forKind: "CustomResourceDefinition", group: "apiextensions.k8s.io", object: crd, now: tableNow)
                == ["devices.devices.kubeedge.io", "2026-01-02T02:04:05Z"])
        #expect(
            TablePrinter.cells(forKind: "Widget", group: "example.com", object: json(#"{"metadata":{"name":"w"}}"#), now: tableNow)
                == ["w", "0001-01-01T00:00:00Z"])
    }

    @Test func customResources() {
        let declared = [
            TablePrinter.customColumn(name: "State", type: "string", jsonPath: ".status.state"),
            TablePrinter.customColumn(
                name: "Twins", type: "integer", description: "Number of twins", priority: 1, jsonPath: ".status.twins"),
            TablePrinter.customColumn(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp"),
        ]
        #expect(declared[0].description == "Custom resource definition column (in JSONPath format): .status.state")
        #expect(declared[1].description == "Number of twins")
        let columns = TablePrinter.customResourceColumns(declared)
        #expect(columns.map(\.name) == ["Name", "State", "Twins", "Age"])
        #expect(columns.map(\.priority) == [0, 0, 1, 0])
        #expect(columns[0].format == "name")

        let device = json(
            #"{"apiVersion":"devices.kubeedge.io/v1beta1","kind":"Device","metadata":{"name":"thermo-1","resourceVersion":"5","creationTimestamp":"2026-11-22T11:00:00Z"},"status":{"state":"online"}}"#
        )
        let cellsIn: [JSONValue] = [
            TablePrinter.customCell(type: "string", value: device[path: ["status", "state"]], now: tableNow),
            TablePrinter.customCell(type: "integer", value: device[path: ["status", "twins"]], now: tableNow),
            TablePrinter.customCell(
                type: "date", value: device[path: ["metadata", "creationTimestamp"]], now: tableNow),
        ]
        let table = TablePrinter.customTable(
            columns: declared, rows: [(object: device, cells: cellsIn)], resourceVersion: "10", includeObject: .none,
            now: tableNow)
        #expect(table["rows"] == [["cells": ["thermo-1", "online", nil, "60m"], "object": nil]])
        #expect(table["columnDefinitions"]?.arrayValue?.count == 4)
        #expect(table["metadata"] == ["resourceVersion": "10"])

        // Missing cells become null; extra ones are dropped.
        let short = TablePrinter.customTable(
            columns: declared, object: device, cells: ["x"], includeObject: .none, includeColumns: false, now: tableNow)
        #expect(short["rows"]?.arrayValue?.first?["cells"] == ["thermo-1", "x", nil, nil])
        #expect(short["columnDefinitions"] == .null)
        #expect(short["metadata"] == ["resourceVersion": "5"])

        // No declared columns: Name and kube's default Age.
        let plain = TablePrinter.customResourceColumns([])
        #expect(plain.map(\.name) == ["Name", "Age"])
        #expect(plain[1].type == "date")
        #expect(plain[1].description.hasPrefix("CreationTimestamp is a timestamp"))
        let plainTable = TablePrinter.customTable(
            columns: [], rows: [(object: device, cells: [])], resourceVersion: "10", includeObject: .none, now: tableNow)
        #expect(plainTable["rows"]?.arrayValue?.first?["cells"] == ["thermo-1", "60m"])
        let emptyTable = TablePrinter.customTable(columns: [], rows: [], resourceVersion: "10", now: tableNow)
        #expect(emptyTable["rows"] == .array([]))
    }

    @Test func customCells() {
        func cell(_ type: String, _ value: String?) -> JSONValue {
            TablePrinter.customCell(type: type, value: value.map(json), now: tableNow)
        }
        #expect(cell("integer", "42") == 42)
        #expect(cell("integer", "42.9") == 42)
        #expect(cell("integer", #""42""#) == nil)
        #expect(cell("number", "3") == .number("3"))
        #expect(cell("number", "1.5") == .number("1.5"))
        #expect(cell("number", "1e21") == .number("1e+21"))
        #expect(cell("number", "0.0000001") == .number("1e-7"))
        #expect(cell("boolean", "true") == true)
        #expect(cell("boolean", #""true""#) == nil)
        #expect(cell("string", #""abc""#) == "abc")
        #expect(cell("string", "12") == "12")
        #expect(cell("string", "1.5") == "1.5")
        #expect(cell("string", "1000000.0") == "1e+06")
        #expect(cell("string", "123456.0") == "123456")
        #expect(cell("string", "false") == "false")
        #expect(cell("string", #"{"b":1,"a":[true,"x"]}"#) == #"{"a":[true,"x"],"b":1}"#)
        #expect(cell("date", #""2026-11-22T11:59:30Z""#) == "30s")
        #expect(cell("date", #""yesterday""#) == "<invalid>")
        #expect(cell("date", #""""#) == "<unknown>")
        #expect(cell("date", "5") == nil)
        #expect(cell("string", nil) == nil)
        #expect(cell("string", "null") == nil)
        #expect(cell("unknown-type", "1") == nil)
    }

    @Test func labelSelectors() {
        func selector(_ text: String?) -> String {
            TablePrinter.formatLabelSelector(TablePrinter.Field(text.map(json)))
        }
        #expect(selector(nil) == "<none>")
        #expect(selector("{}") == "<none>")
        #expect(selector(#"{"matchLabels":{"b":"2","a":"1"}}"#) == "a=1,b=2")
        #expect(
            selector(#"{"matchExpressions":[{"key":"z","operator":"NotIn","values":["b","a"]},{"key":"y","operator":"Exists"},{"key":"x","operator":"In","values":["only"]}]}"#)
                == "x in (only),y,z notin (a,b)")
        #expect(selector(#"{"matchExpressions":[{"key":"x","operator":"In","values":[]}]}"#) == "<error>")
        #expect(selector(#"{"matchExpressions":[{"key":"x","operator":"Exists","values":["v"]}]}"#) == "<error>")
        #expect(TablePrinter.formatLabels(TablePrinter.Field(json(#"{"b":"2","a":"1"}"#))) == "a=1,b=2")
        #expect(TablePrinter.formatLabels(TablePrinter.Field(nil)) == "<none>")
    }
}
