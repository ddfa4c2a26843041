import EdgeProtocol
import Foundation
import Testing

@Suite("JSON scanner, RawJSON, JSONValue")
struct JSONScannerTests {
    static let valid: [String] = [
        "null", "true", "false", "0", "-0", "1", "-1", "10", "1.5", "-0.5", "1e5", "1E+5", "1e-5", "0.0e0",
        "123456789012345678901234567890", #""""#, #""a""#, #""\"\\\/\b\f\n\r\t""#, #""\u0000\uFFFF\uD83D\uDE00""#,
        #""\ud800""#,  // a lone surrogate escape is grammatical (RFC 8259 §8.2)
        "\"é😀\u{7F}\"", "[]", "{}", "[1,[2,[3]]]", #"{"a":{"b":[{}]}}"#, " \t\r\n 1 \n", #"{"a":1,"a":2}"#,
        #"[ 1 , 2 ]"#, #"{ "a" : 1 , "b" : [ ] }"#,
    ]

    static let invalid: [String] = [
        "", " ", "nul", "nulll", "True", "01", "-01", "00", "1.", ".1", "-", "+1", "1e", "1e+", "0x1", "Infinity",
        "NaN",
        #"""#, #""\""#, #""\a""#, #""\u""#, #""\u123""#, #""\U0041""#, "\"\t\"", "[", "]", "[1,]", "[,1]", "[1 2]",
        "{", "}", #"{"a"}"#, #"{"a":}"#, #"{"a":1,}"#, #"{a:1}"#, #"{"a" 1}"#, #"{1:1}"#, "[1]]", "{}}", "1 2",
        #""a" "b""#, "'a'", "[1,2", #"{"a":1"#, "\u{FEFF}1",
    ]

    /// Invalid documents that Foundation's JSONSerialization nevertheless accepts (trailing commas, a leading BOM;
    /// Go rejects both).
    static let foundationLenient: Set<String> = ["[1,]", #"{"a":1,}"#, "\u{FEFF}1"]

    @Test("valid documents are accepted", arguments: valid)
    func validDocuments(_ text: String) throws {
        try JSONScanner.validate(text.utf8)
        // Foundation agrees.
        #expect(
            (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) != nil
                || text.contains(#"\ud800"#))
        // The value round-trips through JSONValue (modulo whitespace).
        let value = try JSONValue(parsing: text.utf8)
        let reparsed = try JSONValue(parsing: try value.serialized())
        #expect(reparsed == value)
    }

    @Test("invalid documents are rejected", arguments: invalid)
    func invalidDocuments(_ text: String) {
        #expect(throws: JSONError.self) { try JSONScanner.validate(text.utf8) }
        #expect(throws: JSONError.self) { try JSONValue(parsing: text.utf8) }
        #expect(throws: JSONError.self) { try RawJSON(validating: text.utf8) }
        // Foundation agrees, except for its leniencies.
        if !Self.foundationLenient.contains(text) {
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) == nil)
        }
    }

    @Test("valueRange and RawJSON(validating:) drop surrounding whitespace only")
    func trimming() throws {
        let text = " \n\t{ \"a\" : [ 1 , 2 ] }\r\n "
        #expect(try JSONScanner.valueRange(of: text.utf8) == 3..<22)
        let raw = try RawJSON(validating: text.utf8)
        #expect(raw.text == #"{ "a" : [ 1 , 2 ] }"#)
        #expect(try RawJSON(validating: "null".utf8) == .null)
        #expect(try RawJSON(validating: ArraySlice("xx true yy".utf8.dropFirst(2).dropLast(2))) == .true)
    }

    @Test("objectMembers: document order, decoded keys, value ranges")
    func objectMembers() throws {
        let text = #" {"a":1, "b\u0041" : {"x":[1,2]} ,"a":"s","":null} "#
        let bytes = Array(text.utf8)
        let members = try JSONScanner.objectMembers(bytes)
        #expect(members.map(\.key) == ["a", "bA", "a", ""])
        let values = members.map { String(decoding: bytes[$0.valueRange], as: UTF8.self) }
        #expect(values == ["1", #"{"x":[1,2]}"#, #""s""#, "null"])
        #expect(try JSONScanner.objectMembers("{}".utf8).isEmpty)
        #expect(throws: JSONError.self) { try JSONScanner.objectMembers("[]".utf8) }
        #expect(throws: JSONError.self) { try JSONScanner.objectMembers(#"{"a":[}"#.utf8) }
        #expect(throws: JSONError.self) { try JSONScanner.objectMembers(#"{"a":1} 2"#.utf8) }

        let raw = try RawJSON(validating: text.utf8)
        let rawMembers = try raw.objectMembers()
        #expect(rawMembers.map(\.key) == ["a", "bA", "a", ""])
        #expect(rawMembers[1].value.text == #"{"x":[1,2]}"#)
        #expect(
            try rawMembers[1].value.objectMembers()[0].value.arrayElements() == [
                RawJSON(integer: 1), RawJSON(integer: 2),
            ])
    }

    @Test("arrayElements")
    func arrayElements() throws {
        let text = #"[ 1 ,"x", [ ] ,{"a":[]}]"#
        let bytes = Array(text.utf8)
        let ranges = try JSONScanner.arrayElements(bytes)
        #expect(ranges.map { String(decoding: bytes[$0], as: UTF8.self) } == ["1", #""x""#, "[ ]", #"{"a":[]}"#])
        #expect(try JSONScanner.arrayElements("[]".utf8).isEmpty)
        #expect(throws: JSONError.self) { try JSONScanner.arrayElements("{}".utf8) }
    }

    @Test("decodeString: every escape, surrogate pairs, lone surrogates as U+FFFD (Go)")
    func strings() throws {
        #expect(
            try JSONScanner.decodeString(#""\"\\\/\b\f\n\r\t\u0041\u00e9\u00E9\ud83d\ude00x""#.utf8)
                == "\"\\/\u{8}\u{C}\n\r\tAéé😀x")
        #expect(try JSONScanner.decodeString(#""\ud800x""#.utf8) == "\u{FFFD}x")
        #expect(try JSONScanner.decodeString(#""\udc00""#.utf8) == "\u{FFFD}")
        #expect(try JSONScanner.decodeString(#""\ud800\u0041""#.utf8) == "\u{FFFD}A")
        #expect(try JSONScanner.decodeString(#""\ud83d\ud83d\ude00""#.utf8) == "\u{FFFD}😀")
        #expect(try JSONScanner.decodeString(#""plain é""#.utf8) == "plain é")
        #expect(try JSONScanner.decodeString(#""""#.utf8) == "")
        #expect(throws: JSONError.self) { try JSONScanner.decodeString("1".utf8) }
        #expect(throws: JSONError.self) { try JSONScanner.decodeString(#""a" "#.utf8 + [0x78]) }
    }

    @Test("decodeInt64 and RawJSON scalar accessors")
    func scalars() throws {
        #expect(try JSONScanner.decodeInt64("-9223372036854775808".utf8) == .min)
        #expect(try JSONScanner.decodeInt64(" 9223372036854775807 ".utf8) == .max)
        #expect(throws: JSONError.self) { try JSONScanner.decodeInt64("9223372036854775808".utf8) }
        #expect(throws: JSONError.self) { try JSONScanner.decodeInt64("1.0".utf8) }
        #expect(throws: JSONError.self) { try JSONScanner.decodeInt64(#""1""#.utf8) }
        #expect(RawJSON(integer: -42).int64Value == -42)
        #expect(RawJSON(integer: -42).text == "-42")
        #expect(RawJSON(bool: true).boolValue == true)
        #expect(RawJSON(bool: false).boolValue == false)
        #expect(RawJSON.null.boolValue == nil)
        #expect(RawJSON.null.isNull)
        #expect(RawJSON.null.text == "null")
        #expect(!RawJSON(string: "null").isNull)
        #expect(RawJSON(string: "x").int64Value == nil)
        #expect(RawJSON(integer: 1).stringValue == nil)
        #expect(RawJSON(unchecked: Array(#""bad\"#.utf8)).stringValue == nil)
        #expect(RawJSON(string: "").text == #""""#)
        #expect("\(RawJSON(string: "<"))" == #""\u003c""#)
    }

    @Test("JSONValue: parse keeps member order, duplicates and number literals; serialises compactly")
    func jsonValue() throws {
        let value = try JSONValue(
            parsing: #" { "z" : 1.50 , "a" : [ -0 , 1E+2 , "x" , true , false , null , { } , [ ] ] , "z" : 2 } "#.utf8)
        #expect(
            value
                == .object([
                    (key: "z", value: .number("1.50")),
                    (
                        key: "a",
                        value: .array([
                            .number("-0"), .number("1E+2"), .string("x"), .bool(true), .bool(false), .null, .object([]),
                            .array([]),
                        ])
                    ),
                    (key: "z", value: .number("2")),
                ]))
        #expect(value["z"] == 2)
        #expect(value["missing"] == nil)
        #expect(try RawJSON(value).text == #"{"z":1.50,"a":[-0,1E+2,"x",true,false,null,{},[]],"z":2}"#)
        #expect(throws: JSONError.self) { try RawJSON(JSONValue.number("1.")) }
        #expect(throws: JSONError.self) { try RawJSON(JSONValue.array([.number("abc")])) }
        #expect(
            try RawJSON(["k": "<v>", "n": nil, "f": 1.5, "b": true, "a": [1, "2"]]).text
                == #"{"k":"\u003cv\u003e","n":null,"f":1.5,"b":true,"a":[1,"2"]}"#)
        let hashes = Set<JSONValue>([["a": 1], ["a": 1], ["a": 2], [1], "1", 1])
        #expect(hashes.count == 5)
    }
}
