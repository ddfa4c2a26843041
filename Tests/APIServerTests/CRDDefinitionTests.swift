// The CRD's own validation (the mistakes kube-apiserver rejects) and printer columns.

import EdgeProtocol
import Testing

@testable import APIMachinery
@testable import APIServerService

@Suite("CRDDefinition")
struct CRDDefinitionTests {
    typealias Support = CRDTestSupport

    /// A valid CRD (JSON text) to break in each test.
    static let base = Support.json(
        #"""
        {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
         "metadata":{"name":"widgets.example.com"},
         "spec":{"group":"example.com","scope":"Namespaced",
           "names":{"plural":"widgets","singular":"widget","kind":"Widget","shortNames":["wd"],"categories":["all"]},
           "versions":[
             {"name":"v1","served":true,"storage":true,
              "schema":{"openAPIV3Schema":{"type":"object","properties":{
                "spec":{"type":"object","properties":{"replicas":{"type":"integer"},"color":{"type":"string"}}},
                "status":{"type":"object","properties":{"replicas":{"type":"integer"},"selector":{"type":"string"},
                  "conditions":{"type":"array","items":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}}}}},
              "subresources":{"status":{},"scale":{"specReplicasPath":".spec.replicas","statusReplicasPath":".status.replicas","labelSelectorPath":".status.selector"}},
              "additionalPrinterColumns":[
                {"name":"Replicas","type":"integer","jsonPath":".spec.replicas"},
                {"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status","description":"readiness"},
                {"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"},
                {"name":"Color","type":"string","jsonPath":".spec.color","priority":1}]},
             {"name":"v1beta1","served":false,"storage":false,"deprecated":true,"deprecationWarning":"use v1",
              "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}
        """#)

    func messages(_ edit: (inout JSONValue) -> Void) -> [String] {
        var object = Self.base
        edit(&object)
        return CRDDefinition(object).validate().map(\.description)
    }

    @Test("a complete CRD parses with names, versions, subresources and printer columns")
    func parse() throws {
        let crd = CRDDefinition(Self.base)
        #expect(crd.validate() == [])
        #expect(crd.name == "widgets.example.com")
        #expect(crd.group == "example.com")
        #expect(crd.scope == .namespaced && crd.isNamespaced)
        #expect(
            crd.names
                == .init(
                    plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList", shortNames: ["wd"],
                    categories: ["all"]))
        #expect(crd.versions.map(\.name) == ["v1", "v1beta1"])
        #expect(crd.storageVersion?.name == "v1")
        let v1 = try #require(crd.version(named: "v1"))
        #expect(v1.subresources.status)
        #expect(
            v1.subresources.scale
                == .init(
                    specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas",
                    labelSelectorPath: ".status.selector"))
        #expect(v1.additionalPrinterColumns.map(\.name) == ["Replicas", "Ready", "Age", "Color"])
        #expect(v1.additionalPrinterColumns[1].description == "readiness")
        #expect(v1.additionalPrinterColumns[3].priority == 1)
        #expect(v1.printerColumns.map(\.name) == ["Replicas", "Ready", "Age", "Color"])
        let beta = try #require(crd.version(named: "v1beta1"))
        #expect(!beta.served && !beta.storage && beta.deprecated && beta.deprecationWarning == "use v1")
        #expect(beta.subresources.scale == nil && !beta.subresources.status)
        // A preserve-unknown-fields root keeps everything.
        var anything = Support.json(#"{"apiVersion":"example.com/v1beta1","kind":"Widget","metadata":{"name":"w"},"x":{"y":1}}"#)
        #expect(beta.validator.prune(&anything) == [])
        #expect(beta.validator.validate(anything) == [])
    }

    @Test("metadata.name must be <plural>.<group>")
    func nameMismatch() {
        #expect(
            messages { $0[path: ["metadata", "name"]] = "widget.example.com" } == [
                #"metadata.name: Invalid value: "widget.example.com": must be spec.names.plural+"."+spec.group"#
            ])
        #expect(
            messages { $0[path: ["metadata", "name"]] = nil } == [
                "metadata.name: Required value: name or generateName is required"
            ])
    }

    @Test("exactly one storage version, and at least one version")
    func storageVersions() {
        #expect(
            messages { $0[path: ["spec", "versions"]] = .array([$0[path: ["spec", "versions"]]!.arrayValue![0], Support.json(#"{"name":"v2","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object"}}}"#)]) } == [
                #"spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{apiextensions.CustomResourceDefinitionVersion{Name:"v1", Served:true, Storage:true, ...}, apiextensions.CustomResourceDefinitionVersion{Name:"v2", Served:true, Storage:true, ...}}: must have exactly one version marked as storage version"#
            ])
        #expect(
            messages { $0[path: ["spec", "versions"]] = .array([]) } == [
                "spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion(nil): must have exactly one version marked as storage version"
            ])
        #expect(
            messages { $0[path: ["spec", "versions"]] = .array([$0[path: ["spec", "versions"]]!.arrayValue![0], $0[path: ["spec", "versions"]]!.arrayValue![0]]) } == [
                #"spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{apiextensions.CustomResourceDefinitionVersion{Name:"v1", Served:true, Storage:true, ...}, apiextensions.CustomResourceDefinitionVersion{Name:"v1", Served:true, Storage:true, ...}}: must contain unique version names"#,
                #"spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{apiextensions.CustomResourceDefinitionVersion{Name:"v1", Served:true, Storage:true, ...}, apiextensions.CustomResourceDefinitionVersion{Name:"v1", Served:true, Storage:true, ...}}: must have exactly one version marked as storage version"#,
            ])
        #expect(
            messages { $0[path: ["spec", "versions"]] = .array([Support.json(#"{"name":"V1","served":true,"storage":true}"#)]) } == [
                #"spec.versions[0].name: Invalid value: "V1": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
                "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required",
            ])
    }

    @Test("names.plural and names.kind are required; scope and group must be valid")
    func namesAndScope() {
        #expect(
            messages { $0[path: ["spec", "names"]] = .object([]) } == [
                #"metadata.name: Invalid value: "widgets.example.com": must be spec.names.plural+"."+spec.group"#,
                "spec.names.plural: Required value",
                "spec.names.singular: Required value",
                "spec.names.kind: Required value",
                "spec.names.listKind: Required value",
            ])
        #expect(
            messages {
                $0[path: ["spec", "names", "kind"]] = "WidgetList"
                $0[path: ["spec", "names", "listKind"]] = "WidgetList"
                $0[path: ["spec", "names", "shortNames"]] = ["Wd"]
            } == [
                #"spec.names.shortNames[0]: Invalid value: "Wd": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
                #"spec.names.listKind: Invalid value: "WidgetList": kind and listKind may not be the same"#,
            ])
        #expect(
            messages { $0[path: ["spec", "scope"]] = "Global" } == [
                #"spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced""#
            ])
        #expect(messages { $0[path: ["spec", "scope"]] = nil } == ["spec.scope: Required value"])
        #expect(
            messages {
                $0[path: ["spec", "group"]] = "example"
                $0[path: ["metadata", "name"]] = "widgets.example"
            } == [#"spec.group: Invalid value: "example": should be a domain with at least one dot"#])
        #expect(CRDDefinition(Self.base).scope == .namespaced)
        var cluster = Self.base
        cluster[path: ["spec", "scope"]] = "Cluster"
        #expect(CRDDefinition(cluster).scope == .cluster && !CRDDefinition(cluster).isNamespaced)
    }

    @Test("schemas must be structural")
    func structural() {
        #expect(
            messages {
                $0[path: ["spec", "versions"]] = .array([
                    Support.json(
                        #"{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"properties":{"list":{"type":"array"},"re":{"type":"string","pattern":"(["},"both":{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}}},"metadata":{"type":"object","properties":{"labels":{"type":"object"}}}}}}}"#
                    )
                ])
            } == [
                "spec.versions[0].schema.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified",
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[list].items: Required value: must be specified",
                #"spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[re].pattern: Invalid value: "([": must be a valid regular expression, but isn't"#,
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[both].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive",
            ].map { $0 })
    }

    @Test("printer columns and scale paths are checked")
    func columnsAndScale() {
        #expect(
            messages {
                $0[path: ["spec", "versions"]] = .array([
                    Support.json(
                        #"{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object"}},"subresources":{"scale":{"specReplicasPath":".status.replicas","statusReplicasPath":""}},"additionalPrinterColumns":[{"name":"","type":"text","format":"hex","jsonPath":"spec.x"},{"name":"B","jsonPath":".a[?(@.x"}]}"#
                    )
                ])
            } == [
                #"spec.versions[0].subresources.scale.specReplicasPath: Invalid value: ".status.replicas": should be a json path under .spec"#,
                "spec.versions[0].subresources.scale.statusReplicasPath: Required value",
                "spec.versions[0].additionalPrinterColumns[0].name: Required value",
                #"spec.versions[0].additionalPrinterColumns[0].type: Invalid value: "text": must be one of boolean,date,integer,number,string"#,
                #"spec.versions[0].additionalPrinterColumns[0].format: Invalid value: "hex": must be one of byte,date,date-time,double,float,int32,int64,password"#,
                #"spec.versions[0].additionalPrinterColumns[0].jsonPath: Invalid value: "spec.x": must be a simple json path starting with ."#,
                "spec.versions[0].additionalPrinterColumns[1].type: Required value: must be one of boolean,date,integer,number,string",
                #"spec.versions[0].additionalPrinterColumns[1].jsonPath: Invalid value: ".a[?(@.x": unrecognized JSONPath ".a[?(@.x": expected ) to close the filter"#,
            ])
    }

    @Test("shape errors in the CRD object are reported, not trapped")
    func shapeErrors() {
        #expect(
            messages {
                $0[path: ["spec", "versions"]] = .array([
                    Support.json(#"{"name":"v1","served":"yes","storage":true,"schema":{"openAPIV3Schema":{"type":"object","required":"spec"}}}"#)
                ])
            } == [
                #"spec.versions[0].schema.openAPIV3Schema.required: Invalid value: "spec": must be an array of strings"#,
                #"spec.versions[0].served: Invalid value: "yes": must be a boolean"#,
            ])
    }

    // MARK: Printer columns

    static let widget = Support.json(
        #"""
        {"apiVersion":"example.com/v1","kind":"Widget",
         "metadata":{"name":"w1","creationTimestamp":"2024-05-01T10:00:00Z","labels":{"app.kubernetes.io/name":"demo"}},
         "spec":{"replicas":3,"color":"blue","ratio":2.5,"big":1e6,"on":true,"tags":["a","b","c"],"nested":{"z":1,"a":[true,null]}},
         "status":{"conditions":[{"type":"Synced","status":"True","n":1},{"type":"Ready","status":"False","n":2},{"type":"Ready","status":"Unknown","n":3}]}}
        """#)

    func cell(_ path: String, _ type: String = "string") throws -> JSONValue {
        try JSONPathColumn(type: type, jsonPath: path).cell(for: Self.widget)
    }

    @Test("simple paths, indexes, filters and cells per column type")
    func columns() throws {
        #expect(try cell(".spec.color") == "blue")
        #expect(try cell(".spec.replicas", "integer") == 3)
        #expect(try cell(".spec.replicas") == "3")
        #expect(try cell(".spec.ratio", "integer") == 2)
        #expect(try cell(".spec.ratio", "number") == .number("2.5"))
        #expect(try cell(".spec.replicas", "number") == .number("3"))
        #expect(try cell(".spec.big") == "1e+06")
        #expect(try cell(".spec.on", "boolean") == true)
        #expect(try cell(".spec.on") == "true")
        #expect(try cell(".spec.color", "integer") == .null)
        #expect(try cell(".metadata.creationTimestamp", "date") == "2024-05-01T10:00:00Z")
        #expect(try cell(".spec.missing") == .null)
        #expect(try cell(".spec.tags[0]") == "a")
        #expect(try cell(".spec.tags[-1]") == "c")
        #expect(try cell(".spec.tags[5]") == .null)
        #expect(try cell(".spec.tags") == #"["a","b","c"]"#)
        #expect(try cell(".spec.nested") == #"{"a":[true,null],"z":1}"#)
        #expect(try cell(".status.conditions[0].type") == "Synced")
        #expect(try cell(#".status.conditions[?(@.type=="Ready")].status"#) == "False")
        #expect(try cell(".status.conditions[?(@.type == 'Ready')].n", "integer") == 2)
        #expect(try cell(".status.conditions[?(@.n > 2)].status") == "Unknown")
        #expect(try cell(".status.conditions[?(@.n)].type") == "Synced")
        #expect(try cell(#".status.conditions[?(@.type=="Gone")].status"#) == .null)
        #expect(try cell(".metadata.labels['app.kubernetes.io/name']") == "demo")
        #expect(try cell(#".metadata.labels.app\.kubernetes\.io/name"#) == "demo")
        #expect(try cell("{.spec.color}") == "blue")
        #expect(try cell("$.spec.color") == "blue")

        let all = try JSONPathColumn(jsonPath: ".status.conditions[*].type").results(in: Self.widget)
        #expect(all == ["Synced", "Ready", "Ready"])
        let sliced = try JSONPathColumn(jsonPath: ".spec.tags[1:]").results(in: Self.widget)
        #expect(sliced == ["b", "c"])
        let deep = try JSONPathColumn(jsonPath: "..status").results(in: Self.widget)
        #expect(deep.count == 4)

        #expect(throws: JSONPathColumn.ParseError.self) { try JSONPathColumn(jsonPath: ".spec[") }
        #expect(throws: JSONPathColumn.ParseError.self) { try JSONPathColumn(jsonPath: ".a b") }

        let crd = CRDDefinition(CRDDefinitionTests.base)
        let row = crd.version(named: "v1")!.printerColumns.map { $0.cell(for: Self.widget) }
        #expect(row == [3, "False", "2024-05-01T10:00:00Z", "blue"])
        #expect(JSONPathColumn.age.cell(for: Self.widget) == "2024-05-01T10:00:00Z")
    }
}
