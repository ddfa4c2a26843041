// The schema keywords one by one, on a synthetic schema, with kube-apiserver's messages.

import EdgeProtocol
import Testing

@testable import APIMachinery
@testable import APIServerService

@Suite("SchemaValidator")
struct SchemaValidatorTests {
    typealias Support = CRDTestSupport

    static let schema = Support.json(
        #"""
        {"type":"object","properties":{
          "metadata":{"type":"object","properties":{"name":{"type":"string","maxLength":12,"pattern":"^[a-z-]+$"}}},
          "spec":{"type":"object","required":["protocol"],"properties":{
            "replicas":{"type":"integer","minimum":1,"maximum":10},
            "ratio":{"type":"number","exclusiveMinimum":true,"minimum":0,"multipleOf":0.5},
            "step":{"type":"integer","multipleOf":3},
            "limit":{"type":"number","exclusiveMaximum":true,"maximum":1000000},
            "protocol":{"type":"string","enum":["TCP","UDP"]},
            "name":{"type":"string","minLength":3,"maxLength":5,"pattern":"^[a-z]+$"},
            "tags":{"type":"array","minItems":1,"maxItems":2,"items":{"type":"string"}},
            "set":{"type":"array","uniqueItems":true,"items":{"type":"object","x-kubernetes-preserve-unknown-fields":true}},
            "labels":{"type":"object","additionalProperties":{"type":"string"},"minProperties":1,"maxProperties":2},
            "closed":{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false},
            "port":{"x-kubernetes-int-or-string":true},
            "raw":{"x-kubernetes-preserve-unknown-fields":true},
            "partial":{"type":"object","x-kubernetes-preserve-unknown-fields":true,"properties":{"known":{"type":"object","properties":{"x":{"type":"integer"}}}}},
            "optional":{"type":"string","nullable":true},
            "when":{"type":"string","format":"date-time"},
            "day":{"type":"string","format":"date"},
            "data":{"type":"string","format":"byte"},
            "ip":{"type":"string","format":"ipv4"},
            "uid":{"type":"string","format":"uuid"},
            "count":{"type":"integer","format":"int32"},
            "odd":{"type":"string","format":"k8s-custom-thing"},
            "mode":{"type":"string","default":"auto"},
            "nested":{"type":"object","default":{},"properties":{"level":{"type":"integer","default":3},"keep":{"type":"string"}}},
            "items":{"type":"array","items":{"type":"object","properties":{"n":{"type":"integer","default":7}}}},
            "template":{"type":"object","x-kubernetes-embedded-resource":true,"x-kubernetes-preserve-unknown-fields":true},
            "choice":{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"oneOf":[{"required":["a"]},{"required":["b"]}]},
            "either":{"type":"string","anyOf":[{"pattern":"^x"},{"pattern":"^y"}]},
            "both":{"type":"integer","allOf":[{"minimum":0},{"maximum":5}]},
            "notEmpty":{"type":"string","not":{"enum":[""]}},
            "flag":{"type":"boolean"}
          }},
          "status":{"type":"object","properties":{"ready":{"type":"boolean"}}}
        }}
        """#)

    static let validator = SchemaValidator(openAPIV3Schema: schema)

    /// The messages for an object whose spec is `spec` (JSON text) plus the required `protocol`.
    func errors(_ spec: String, name: String = "ok") -> [String] {
        var object = Support.json(#"{"apiVersion":"example.com/v1","kind":"Thing","metadata":{"name":"x"}}"#)
        object[path: ["metadata", "name"]] = .string(name)
        var specValue = Support.json(spec)
        if specValue["protocol"] == nil { specValue[member: "protocol"] = "TCP" }
        object[member: "spec"] = specValue
        return Self.validator.validate(object).map(\.description)
    }

    @Test("a valid object has no errors")
    func valid() {
        #expect(
            errors(
                #"{"replicas":3,"ratio":1.5,"step":9,"limit":999999.5,"name":"abc","tags":["a"],"labels":{"a":"b"},"closed":{"a":"x"},"port":"http","raw":{"any":[1,{"b":null}]},"optional":null,"when":"2024-02-29T23:59:59.5+01:00","day":"2024-02-29","data":"aGVsbG8=","ip":"10.0.0.1","uid":"123e4567-e89b-12d3-a456-426614174000","count":5000000000,"odd":"whatever","choice":{"b":"x"},"either":"yes","both":5,"notEmpty":"x","flag":false}"#
            ) == [])
        #expect(errors(#"{"port":8080,"replicas":2.0}"#) == [])
    }

    @Test("types")
    func types() {
        #expect(
            errors(#"{"replicas":"3","flag":"true","tags":"a","labels":[],"port":true,"replicas":1.5}"#) == [
                #"spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number""#,
                #"spec.flag: Invalid value: "string": spec.flag in body must be of type boolean: "string""#,
                #"spec.tags: Invalid value: "string": spec.tags in body must be of type array: "string""#,
                #"spec.labels: Invalid value: "array": spec.labels in body must be of type object: "array""#,
                #"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#,
            ])
        #expect(
            errors(#"{"replicas":null}"#) == [
                #"spec.replicas: Invalid value: "null": spec.replicas in body must be of type integer: "null""#
            ])
        // A type error does not stop the enum check, as in kube-openapi.
        #expect(
            errors(#"{"protocol":6}"#) == [
                #"spec.protocol: Invalid value: "integer": spec.protocol in body must be of type string: "integer""#,
                #"spec.protocol: Unsupported value: 6: supported values: "TCP", "UDP""#,
            ])
    }

    @Test("numbers: minimum, maximum, exclusive bounds, multipleOf")
    func numbers() {
        #expect(
            errors(#"{"replicas":0}"#) == [
                "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"
            ])
        #expect(
            errors(#"{"replicas":11}"#) == [
                "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"
            ])
        #expect(
            errors(#"{"ratio":-0.5}"#) == ["spec.ratio: Invalid value: -0.5: spec.ratio in body should be greater than 0"])
        #expect(
            errors(#"{"ratio":0.7}"#) == ["spec.ratio: Invalid value: 0.7: spec.ratio in body should be a multiple of 0.5"])
        // kube-openapi checks an integer value against int64(multipleOf): a fractional factor becomes 0.
        #expect(
            errors(#"{"ratio":1}"#) == [
                "spec.ratio: Invalid value: 0: factor MultipleOf declared for spec.ratio must be positive: 0"
            ])
        #expect(errors(#"{"step":4}"#) == ["spec.step: Invalid value: 4: spec.step in body should be a multiple of 3"])
        #expect(
            errors(#"{"limit":1e6}"#) == [
                "spec.limit: Invalid value: 1e+06: spec.limit in body should be less than 1e+06"
            ])
        #expect(
            errors(#"{"both":7}"#) == [
                "spec.both: Invalid value: 7: spec.both in body should be less than or equal to 5",
                #"<nil>: Invalid value: "": "spec.both" must validate all the schemas (allOf)"#,
            ])
    }

    @Test("strings: enum, minLength, maxLength, pattern, required")
    func strings() {
        #expect(
            errors(#"{"protocol":"SCTP"}"#) == [
                #"spec.protocol: Unsupported value: "SCTP": supported values: "TCP", "UDP""#
            ])
        #expect(
            errors(#"{"name":"ab"}"#) == [
                #"spec.name: Invalid value: "ab": spec.name in body should be at least 3 chars long"#
            ])
        #expect(errors(#"{"name":"abcdef"}"#) == ["spec.name: Too long: may not be more than 5 bytes"])
        #expect(
            errors(#"{"name":"ABC"}"#) == [#"spec.name: Invalid value: "ABC": spec.name in body should match '^[a-z]+$'"#])
        #expect(errors(#"{"name":"äöü"}"#) == [#"spec.name: Invalid value: "äöü": spec.name in body should match '^[a-z]+$'"#])

        var object = Support.json(#"{"apiVersion":"example.com/v1","kind":"Thing","metadata":{"name":"x"},"spec":{}}"#)
        #expect(Self.validator.validate(object).map(\.description) == ["spec.protocol: Required value"])
        object[member: "spec"] = nil
        #expect(Self.validator.validate(object) == [])
    }

    @Test("arrays and maps: minItems, maxItems, uniqueItems, minProperties, maxProperties, additionalProperties")
    func collections() {
        #expect(errors(#"{"tags":[]}"#) == ["spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"])
        #expect(errors(#"{"tags":["a","b","c"]}"#) == ["spec.tags: Too many: 3: must have at most 2 items"])
        #expect(
            errors(#"{"tags":["a",1]}"#) == [
                #"spec.tags[1]: Invalid value: "integer": spec.tags[1] in body must be of type string: "integer""#
            ])
        #expect(
            errors(#"{"set":[{"a":1,"b":[2]},{"b":[2],"a":1}]}"#) == [
                #"spec.set: Invalid value: "": spec.set in body shouldn't contain duplicates"#
            ])
        #expect(errors(#"{"set":[{"a":1},{"a":1.5}]}"#) == [])
        #expect(
            errors(#"{"labels":{}}"#) == [
                "spec.labels: Invalid value: 0: spec.labels in body should have at least 1 properties"
            ])
        #expect(errors(#"{"labels":{"a":"1","b":"2","c":"3"}}"#) == ["spec.labels: Too many: 3: must have at most 2 items"])
        #expect(
            errors(#"{"labels":{"a":1}}"#) == [
                #"spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer""#
            ])
        #expect(
            errors(#"{"closed":{"a":"x","b":"y"}}"#) == [
                #"spec.closed: Invalid value: "b": spec.closed.b in body is a forbidden property"#
            ])
    }

    @Test("formats: checked ones fail with 'must be of type <format>', others are ignored")
    func formats() {
        #expect(
            errors(#"{"when":"yesterday","day":"2023-02-29","data":"not base64!","ip":"10.0.0.256","uid":"xyz"}"#) == [
                #"spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday""#,
                #"spec.day: Invalid value: "2023-02-29": spec.day in body must be of type date: "2023-02-29""#,
                #"spec.data: Invalid value: "not base64!": spec.data in body must be of type byte: "not base64!""#,
                #"spec.ip: Invalid value: "10.0.0.256": spec.ip in body must be of type ipv4: "10.0.0.256""#,
                #"spec.uid: Invalid value: "xyz": spec.uid in body must be of type uuid: "xyz""#,
            ])
        // A formatted string field given a number: kube-openapi names the format, then the Go format.
        #expect(
            errors(#"{"when":5}"#) == [
                #"spec.when: Invalid value: "int64": spec.when in body must be of type date-time: "int64""#
            ])
        #expect(errors(#"{"when":"2024-01-02t03:04:05Z","data":"","ip":"::ffff:1.2.3.4"}"#) == [])
    }

    @Test("allOf, anyOf, oneOf and not")
    func junctors() {
        #expect(
            errors(#"{"choice":{}}"#) == [
                #"<nil>: Invalid value: "": "spec.choice" must validate one and only one schema (oneOf). Found none valid"#,
                "spec.choice.a: Required value",
            ])
        #expect(
            errors(#"{"choice":{"a":"1","b":"2"}}"#) == [
                #"<nil>: Invalid value: "": "spec.choice" must validate one and only one schema (oneOf). Found 2 valid alternatives"#
            ])
        #expect(
            errors(#"{"either":"zzz"}"#) == [
                #"<nil>: Invalid value: "": "spec.either" must validate at least one schema (anyOf)"#,
                #"spec.either: Invalid value: "zzz": spec.either in body should match '^x'"#,
            ])
        #expect(
            errors(#"{"notEmpty":""}"#) == [#"<nil>: Invalid value: "": "spec.notEmpty" must not validate the schema (not)"#])
    }

    @Test("embedded resources need apiVersion and kind")
    func embedded() {
        #expect(errors(#"{"template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"x":1}}}"#) == [])
        #expect(
            errors(#"{"template":{"spec":{}}}"#) == [
                "spec.template.apiVersion: Required value: must not be empty",
                "spec.template.kind: Required value: must not be empty",
            ])
        #expect(
            errors(#"{"template":{"apiVersion":"a/b/c","kind":""}}"#) == [
                #"spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#,
                #"spec.template.kind: Invalid value: "": must not be empty"#,
            ])
    }

    @Test("metadata: only name constraints from the schema apply; apiVersion and kind are the server's")
    func metadata() {
        #expect(errors("{}", name: "a-valid-name") == [])
        #expect(errors("{}", name: "much-too-long-name") == ["metadata.name: Too long: may not be more than 12 bytes"])
        #expect(
            errors("{}", name: "Upper") == [
                #"metadata.name: Invalid value: "Upper": metadata.name in body should match '^[a-z-]+$'"#
            ])
        let object = Support.json(
            #"{"apiVersion":7,"kind":false,"metadata":{"name":"x","labels":{"a":"b"},"annotations":{"n":"1"}},"spec":{"protocol":"UDP"}}"#
        )
        #expect(Self.validator.validate(object) == [])
    }

    @Test("defaulting: missing fields, nulls, nested defaults, array items")
    func defaulting() {
        var object = Support.json(
            #"{"apiVersion":"example.com/v1","kind":"Thing","metadata":{"name":"x"},"spec":{"protocol":"TCP","items":[{},{"n":1},null]}}"#
        )
        Self.validator.applyDefaults(&object)
        #expect(
            Support.text(object["spec"]!)
                == #"{"protocol":"TCP","items":[{"n":7},{"n":1},null],"mode":"auto","nested":{"level":3}}"#)

        let admitted = Self.validator.admit(
            Support.json(
                #"{"apiVersion":"example.com/v1","kind":"Thing","metadata":{"name":"x"},"spec":{"protocol":"UDP","mode":null,"nested":{"level":null,"keep":null},"name":null,"optional":null}}"#
            ), fieldValidation: .strict)
        #expect(admitted.isAccepted)
        #expect(
            Support.text(admitted.object["spec"]!)
                == #"{"protocol":"UDP","mode":"auto","nested":{"level":3},"optional":null}"#)
    }

    @Test("pruning: preserve-unknown-fields keeps unknown members but still prunes inside known ones")
    func pruning() {
        var object = Support.json(
            #"{"apiVersion":"example.com/v1","kind":"Thing","metadata":{"name":"x","whatever":1},"spec":{"protocol":"TCP","raw":{"a":{"b":1}},"partial":{"free":1,"known":{"x":1,"y":2}},"template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"other":1},"tags":["a"],"labels":{"k":"v"},"items":[{"n":1,"m":2}]},"status":{"ready":true,"phase":"x"}}"#
        )
        let pruned = Self.validator.prune(&object)
        #expect(pruned == ["spec.items[0].m", "spec.partial.known.y", "status.phase"])
        #expect(
            Support.text(object)
                == #"{"apiVersion":"example.com/v1","kind":"Thing","metadata":{"name":"x","whatever":1},"spec":{"protocol":"TCP","raw":{"a":{"b":1}},"partial":{"free":1,"known":{"x":1}},"template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"other":1},"tags":["a"],"labels":{"k":"v"},"items":[{"n":1}]},"status":{"ready":true}}"#
        )
    }

    @Test("field error formatting follows Go's fmt")
    func formatting() {
        #expect(CRDGoFormat.formatV(1e6) == "1e+06")
        #expect(CRDGoFormat.formatV(100000) == "100000")
        #expect(CRDGoFormat.formatV(123456.5) == "123456.5")
        #expect(CRDGoFormat.formatV(0.0001) == "0.0001")
        #expect(CRDGoFormat.formatV(0.00001) == "1e-05")
        #expect(CRDGoFormat.formatV(-2.5) == "-2.5")
        #expect(CRDGoFormat.formatV(0) == "0")
        #expect(CRDGoFormat.formatJSON(1) == "1")
        #expect(CRDGoFormat.formatJSON(1e21) == "1e+21")
        #expect(CRDGoFormat.formatJSON(1e20) == "100000000000000000000")
        #expect(CRDGoFormat.formatJSON(1e-7) == "1e-7")
        #expect(CRDGoFormat.formatJSON(0.000001) == "0.000001")
        #expect(CRDGoFormat.quote("a\"b\\c\n\u{1}é") == #""a\"b\\c\n\x01é""#)
        #expect(
            CRDFieldError.notSupported("spec.x", Support.json(#"{"b":[1,"x",null],"a":1.5}"#), supported: ["1"]).description
                == #"spec.x: Unsupported value: map[string]interface {}{"a":1.5, "b":[]interface {}{1, "x", interface {}(nil)}}: supported values: "1""#
        )
        #expect(CRDFieldError.invalid("spec.x", .null, "bad").description == #"spec.x: Invalid value: "null": bad"#)
        #expect(CRDFieldError.tooLong("spec.x", maxLength: 1).description == "spec.x: Too long: may not be more than 1 byte")
        #expect(CRDFieldError.aggregateMessage([.required("a"), .required("a")]) == "a: Required value")
        #expect(CRDFieldError.aggregateMessage([]) == "")
    }
}
