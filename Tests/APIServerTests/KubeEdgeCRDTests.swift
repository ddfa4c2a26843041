// KubeEdge's own CRDs and samples (shared/kubeedge-manifests): every CRD parses and is accepted, every sample
// validates, and broken objects fail with the messages kube-apiserver gives.

import EdgeProtocol
import Foundation
import Testing

@testable import APIMachinery
@testable import APIServerService

@Suite("KubeEdge CRDs")
struct KubeEdgeCRDTests {
    typealias Support = CRDTestSupport

    @Test("every CRD file parses, is valid, and has the expected names and versions")
    func parsesEveryCRD() throws {
        let all = try Support.crds()
        #expect(all.count == 6)
        for (file, crd) in all {
            #expect(crd.validate().isEmpty, "\(file): \(crd.validate())")
            #expect(crd.scope == .namespaced, "\(file)")
            #expect(crd.storageVersion != nil, "\(file)")
            #expect(crd.name == crd.names.plural + "." + crd.group, "\(file)")
            for version in crd.versions {
                #expect(version.served, "\(file) \(version.name)")
                #expect(version.schema?.type == "object", "\(file) \(version.name)")
                #expect(version.additionalPrinterColumns.isEmpty)
                #expect(version.subresources == CRDDefinition.Subresources())
                #expect(version.printerColumns.map(\.name) == ["Age"])
            }
        }
        let byFile = Dictionary(all.map { ($0.file, $0.crd) }, uniquingKeysWith: { a, _ in a })

        let device = try #require(byFile["devices_v1beta1_device.yaml"])
        #expect(device.name == "devices.devices.kubeedge.io")
        #expect(device.group == "devices.kubeedge.io")
        #expect(device.names == .init(plural: "devices", singular: "device", kind: "Device", listKind: "DeviceList"))
        #expect(device.versions.map(\.name) == ["v1alpha2", "v1beta1"])
        #expect(device.versions.map(\.storage) == [false, true])
        #expect(device.storageVersion?.name == "v1beta1")

        let rule = try #require(byFile["router_v1_rule.yaml"])
        #expect(rule.name == "rules.rules.kubeedge.io")
        // listKind and singular are defaulted as the server does.
        #expect(rule.names == .init(plural: "rules", singular: "rule", kind: "Rule", listKind: "RuleList"))
        #expect(rule.conversionStrategy == "None")

        let endpoint = try #require(byFile["router_v1_ruleEndpoint.yaml"])
        #expect(endpoint.names.shortNames == ["re"])
        #expect(endpoint.names.listKind == "RuleEndpointList")
        let spec = try #require(endpoint.versions[0].schema?.property("spec"))
        #expect(spec.required == ["ruleEndpointType"])
        #expect(spec.property("ruleEndpointType")?.enumValues == ["rest", "eventbus", "servicebus"])

        let model = try #require(byFile["devices_v1beta1_devicemodel.yaml"])
        #expect(model.names.kind == "DeviceModel")
        #expect(model.storageVersion?.name == "v1beta1")

        let defaulted = CRDDefinition.defaulted(try Support.documents(Support.manifests.appendingPathComponent("crds/router_v1_rule.yaml"))[0])
        #expect(defaulted[path: ["spec", "names", "listKind"]] == "RuleList")
        #expect(defaulted[path: ["spec", "conversion", "strategy"]] == "None")
    }

    @Test("every sample validates against its CRD version")
    func samplesValidate() throws {
        var checked = 0
        for sub in ["samples/router", "samples/v1alpha2"] {
            for url in try Support.files(sub) {
                for object in try Support.documents(url) {
                    let apiVersion = try #require(object["apiVersion"]?.stringValue)
                    let kind = try #require(object["kind"]?.stringValue)
                    let (_, version) = try #require(try Support.crd(apiVersion: apiVersion, kind: kind), "\(url)")
                    let validator = version.validator
                    let admitted = validator.admit(object, fieldValidation: .warn)
                    #expect(validator.validate(admitted.object) == [], "\(url.lastPathComponent)")
                    #expect(admitted.errors == [], "\(url.lastPathComponent)")
                    #expect(admitted.duplicateFields == [], "\(url.lastPathComponent)")
                    #expect(admitted.isAccepted, "\(url.lastPathComponent)")
                    if url.lastPathComponent != "CC2650-device-instance.yaml" {
                        #expect(admitted.unknownFields == [], "\(url.lastPathComponent)")
                        #expect(admitted.object == object, "\(url.lastPathComponent)")
                        #expect(validator.validate(object) == [], "\(url.lastPathComponent)")
                    }
                    checked += 1
                }
            }
        }
        #expect(checked == 13)
    }

    @Test("the CC2650 sample's mis-indented bluetooth fields are pruned (a Strict apply rejects it)")
    func cc2650Pruning() throws {
        let object = try Support.documents(
            Support.manifests.appendingPathComponent("samples/v1alpha2/CC2650-device-instance.yaml"))[0]
        let (_, version) = try #require(try Support.crd(apiVersion: "devices.kubeedge.io/v1alpha2", kind: "Device"))
        let validator = version.validator
        let expected = [
            "spec.propertyVisitors[0].bluetooth.endIndex",
            "spec.propertyVisitors[0].bluetooth.orderOfOperations",
            "spec.propertyVisitors[0].bluetooth.shiftRight",
            "spec.propertyVisitors[0].bluetooth.startIndex",
            "spec.propertyVisitors[1].bluetooth.OFF",
            "spec.propertyVisitors[1].bluetooth.ON",
            "spec.propertyVisitors[5].bluetooth.Buzzer",
            "spec.propertyVisitors[5].bluetooth.BuzzerGreen",
            "spec.propertyVisitors[5].bluetooth.BuzzerRed",
            "spec.propertyVisitors[5].bluetooth.BuzzerRedGreen",
            "spec.propertyVisitors[5].bluetooth.Green",
            "spec.propertyVisitors[5].bluetooth.Red",
            "spec.propertyVisitors[5].bluetooth.RedGreen",
        ]
        let warned = validator.admit(object, fieldValidation: .warn)
        #expect(warned.unknownFields == expected)
        #expect(warned.warnings == expected.map { "unknown field \"\($0)\"" })
        #expect(warned.errors == [])
        // `dataConverter:` and `dataWrite:` are YAML nulls: dropped silently (not nullable, no default).
        let bluetooth = try #require(warned.object[path: ["spec", "propertyVisitors"]]?.arrayValue?[0]["bluetooth"])
        #expect(Support.text(bluetooth) == #"{"characteristicUUID":"f000aa0104514000b000000000000000"}"#)

        let ignored = validator.admit(object, fieldValidation: .ignore)
        #expect(ignored.isAccepted && ignored.warnings.isEmpty)

        let strict = validator.admit(object, fieldValidation: .strict)
        #expect(!strict.isAccepted)
        #expect(
            strict.strictDecodingError
                == "strict decoding error: " + expected.map { "unknown field \"\($0)\"" }.joined(separator: ", "))
    }

    @Test("a v1beta1 Device written from the v1beta1 schema validates")
    func v1beta1Device() throws {
        let object = try Support.document(
            """
            apiVersion: devices.kubeedge.io/v1beta1
            kind: Device
            metadata:
              name: beta-device
              namespace: default
            spec:
              deviceModelRef:
                name: beta-model
              nodeName: edge-node1
              protocol:
                protocolName: modbus
                configData:
                  slaveID: 1
                  serialPort: /dev/ttyS0
              properties:
                - name: temperature
                  desired:
                    value: "20"
                    metadata:
                      type: int
                  visitors:
                    protocolName: modbus
                    configData:
                      register: HoldingRegister
                      offset: 2
                      scale: 0.1
                  reportCycle: 10000
                  collectCycle: 5000
                  reportToCloud: true
                  pushMethod:
                    mqtt:
                      address: tcp://127.0.0.1:1883
                      topic: temperature
                      qos: 1
                      retained: false
            status:
              twins:
                - propertyName: temperature
                  reported:
                    value: "21"
                  observedDesired:
                    value: "20"
            """)
        let (_, version) = try #require(try Support.crd(apiVersion: "devices.kubeedge.io/v1beta1", kind: "Device"))
        let admitted = version.validator.admit(object, fieldValidation: .strict)
        #expect(admitted.isAccepted, "\(admitted.errors) \(admitted.strictDecodingError ?? "")")
        #expect(admitted.object == object)

        var broken = object
        broken[path: ["spec", "properties"]] = Support.json(
            #"[{"name":"t","reportToCloud":"yes","pushMethod":{"mqtt":{"qos":"1"}},"desired":{"metadata":{}}}]"#)
        let errors = version.validator.validate(broken)
        #expect(
            errors.map(\.description) == [
                #"spec.properties[0].reportToCloud: Invalid value: "string": spec.properties[0].reportToCloud in body must be of type boolean: "string""#,
                #"spec.properties[0].pushMethod.mqtt.qos: Invalid value: "string": spec.properties[0].pushMethod.mqtt.qos in body must be of type integer: "string""#,
                "spec.properties[0].desired.value: Required value",
            ])
    }

    // MARK: Broken objects, exact messages

    private func ruleValidator() throws -> SchemaValidator {
        try #require(try Support.crd(apiVersion: "rules.kubeedge.io/v1", kind: "Rule")).1.validator
    }

    @Test("wrong type, missing required fields, and the aggregated Status message")
    func ruleErrors() throws {
        let validator = try ruleValidator()
        let object = Support.json(
            #"{"apiVersion":"rules.kubeedge.io/v1","kind":"Rule","metadata":{"name":"bad-rule"},"spec":{"source":5,"sourceResource":{"path":"/a"}}}"#
        )
        let errors = validator.admit(object, fieldValidation: .strict).errors
        #expect(
            errors.map(\.description) == [
                #"spec.source: Invalid value: "integer": spec.source in body must be of type string: "integer""#,
                "spec.target: Required value",
                "spec.targetResource: Required value",
            ])
        #expect(errors[0].type == .typeInvalid)
        #expect(errors[0].field == "spec.source")
        #expect(errors[0].errorBody == #"Invalid value: "integer": spec.source in body must be of type string: "integer""#)
        #expect(errors[1].type == .required)
        #expect(
            CRDFieldError.invalidMessage(kind: "Rule", group: "rules.kubeedge.io", name: "bad-rule", errors: errors)
                == #"Rule.rules.kubeedge.io "bad-rule" is invalid: [spec.source: Invalid value: "integer": spec.source in body must be of type string: "integer", spec.target: Required value, spec.targetResource: Required value]"#
        )
        #expect(
            CRDFieldError.invalidMessage(kind: "Rule", group: "rules.kubeedge.io", name: "r", errors: [errors[1]])
                == #"Rule.rules.kubeedge.io "r" is invalid: spec.target: Required value"#)

        let status = CRDFieldError.invalidStatus(kind: "Rule", group: "rules.kubeedge.io", name: "r", errors: [errors[1]])
        #expect(
            Support.text(status)
                == #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Rule.rules.kubeedge.io \"r\" is invalid: spec.target: Required value","reason":"Invalid","details":{"name":"r","group":"rules.kubeedge.io","kind":"Rule","causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.target"}]},"code":422}"#
        )
    }

    @Test("map values, array items and status fields are type-checked")
    func nestedTypes() throws {
        let validator = try ruleValidator()
        let object = Support.json(
            #"{"apiVersion":"rules.kubeedge.io/v1","kind":"Rule","metadata":{"name":"r"},"spec":{"source":"a","sourceResource":{"path":1},"target":"b","targetResource":{}},"status":{"successMessages":"x","errors":[1,"ok"]}}"#
        )
        #expect(
            validator.validate(object).map(\.description) == [
                #"spec.sourceResource.path: Invalid value: "integer": spec.sourceResource.path in body must be of type string: "integer""#,
                #"status.successMessages: Invalid value: "string": status.successMessages in body must be of type integer: "string""#,
                #"status.errors[0]: Invalid value: "integer": status.errors[0] in body must be of type string: "integer""#,
            ])
    }

    @Test("a null in a non-nullable field is dropped before validation, so a required one is then missing")
    func nullIsDropped() throws {
        let validator = try ruleValidator()
        let object = Support.json(
            #"{"apiVersion":"rules.kubeedge.io/v1","kind":"Rule","metadata":{"name":"r"},"spec":{"source":null,"sourceResource":{},"target":"b","targetResource":{}}}"#
        )
        #expect(validator.admit(object, fieldValidation: .strict).errors.map(\.description) == ["spec.source: Required value"])
        #expect(
            validator.validate(object).map(\.description) == [
                #"spec.source: Invalid value: "null": spec.source in body must be of type string: "null""#
            ])
    }

    @Test("values outside an enum")
    func enums() throws {
        let endpoint = try #require(try Support.crd(apiVersion: "rules.kubeedge.io/v1", kind: "RuleEndpoint")).1
        let object = Support.json(
            #"{"apiVersion":"rules.kubeedge.io/v1","kind":"RuleEndpoint","metadata":{"name":"e"},"spec":{"ruleEndpointType":"mqtt"}}"#
        )
        let errors = endpoint.validator.validate(object)
        #expect(
            errors.map(\.description) == [
                #"spec.ruleEndpointType: Unsupported value: "mqtt": supported values: "rest", "eventbus", "servicebus""#
            ])
        #expect(errors[0].type == .notSupported)

        let (_, device) = try #require(try Support.crd(apiVersion: "devices.kubeedge.io/v1alpha2", kind: "Device"))
        let instance = Support.json(
            #"{"apiVersion":"devices.kubeedge.io/v1alpha2","kind":"Device","metadata":{"name":"d"},"spec":{"protocol":{"common":{"com":{"baudRate":9601,"parity":"mark"}}},"propertyVisitors":[{"propertyName":"t","modbus":{"register":"Foo"}}]}}"#
        )
        #expect(
            device.validator.validate(instance).map(\.description) == [
                #"spec.protocol.common.com.baudRate: Unsupported value: 9601: supported values: "115200", "57600", "38400", "19200", "9600", "4800", "2400", "1800", "1200", "600", "300", "200", "150", "134", "110", "75", "50""#,
                #"spec.protocol.common.com.parity: Unsupported value: "mark": supported values: "none", "even", "odd""#,
                #"spec.propertyVisitors[0].modbus.register: Unsupported value: "Foo": supported values: "CoilRegister", "DiscreteInputRegister", "InputRegister", "HoldingRegister""#,
            ])
    }

    @Test("unknown fields: pruned, then rejected (Strict), warned about (Warn) or dropped silently (Ignore)")
    func unknownFields() throws {
        let validator = try ruleValidator()
        let object = Support.json(
            #"{"apiVersion":"rules.kubeedge.io/v1","kind":"Rule","metadata":{"name":"r","labels":{"a":"b"}},"extra":1,"spec":{"source":"a","sourceResource":{"path":"/x"},"target":"b","targetResource":{"topic":"t"},"foo":{"bar":1}},"status":{"errors":[],"lastSeen":"now"}}"#
        )
        let strict = validator.admit(object, fieldValidation: .strict)
        #expect(strict.unknownFields == ["extra", "spec.foo", "status.lastSeen"])
        #expect(
            strict.strictDecodingError
                == #"strict decoding error: unknown field "extra", unknown field "spec.foo", unknown field "status.lastSeen""#)
        #expect(
            SchemaValidator.strictDecodingMessage(kind: "Rule", version: "v1", error: strict.strictDecodingError!)
                == #"Rule in version "v1" cannot be handled as a Rule: strict decoding error: unknown field "extra", unknown field "spec.foo", unknown field "status.lastSeen""#
        )

        let warn = validator.admit(object, fieldValidation: .warn)
        #expect(warn.isAccepted)
        #expect(
            warn.warnings == [#"unknown field "extra""#, #"unknown field "spec.foo""#, #"unknown field "status.lastSeen""#])
        let stored = #"{"apiVersion":"rules.kubeedge.io/v1","kind":"Rule","metadata":{"name":"r","labels":{"a":"b"}},"spec":{"source":"a","sourceResource":{"path":"/x"},"target":"b","targetResource":{"topic":"t"}},"status":{"errors":[]}}"#
        #expect(Support.text(warn.object) == stored)

        let ignore = validator.admit(object, fieldValidation: .ignore)
        #expect(ignore.isAccepted && ignore.warnings.isEmpty)
        #expect(Support.text(ignore.object) == stored)
    }

    @Test("duplicate JSON fields keep the last value and count as strict errors")
    func duplicateFields() throws {
        let validator = try ruleValidator()
        let object = Support.json(
            #"{"apiVersion":"rules.kubeedge.io/v1","kind":"Rule","metadata":{"name":"r"},"spec":{"source":"a","source":"b","sourceResource":{},"target":"t","targetResource":{}}}"#
        )
        let strict = validator.admit(object, fieldValidation: .strict)
        #expect(strict.duplicateFields == ["spec.source"])
        #expect(strict.strictDecodingError == #"strict decoding error: duplicate field "spec.source""#)
        let warn = validator.admit(object, fieldValidation: .warn)
        #expect(warn.isAccepted)
        #expect(warn.warnings == [#"duplicate field "spec.source""#])
        #expect(warn.object[path: ["spec", "source"]] == "b")
        #expect(warn.object["spec"]?.objectMembers?.count == 4)
    }
}
