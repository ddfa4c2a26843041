// The validation rules of edgecore's devicetwin (kubeedge-wire.md §6.4; `dttype/types.go
// UnmarshalDeviceTwinUpdate`, `dtcommon/util.go`), with edgecore's exact error texts.

/// An error edgecore reports on `…/twin/update/result`: HTTP-like code and reason text.
public struct TwinError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: Int
    public var reason: String

    public init(code: Int, reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code) \(reason)" }

    public static let badRequestCode = 400
    public static let notFoundCode = 404
    public static let internalErrorCode = 500

    // dttype/types.go
    public static let unmarshal = TwinError(
        code: 400, reason: "Unmarshal update request body failed, please check the request")
    public static let noTwinKey = TwinError(code: 400, reason: "Update twin error, key:twin does not exist")
    public static let badKey = TwinError(
        code: 400,
        reason: "The key of twin must only include upper or lowercase letters, number, english, and special letter - _ . , : / @ # and the length of key should be less than 128 bytes"
    )
    public static let badValue = TwinError(
        code: 400,
        reason: "The value of twin must only include upper or lowercase letters, number, english, and special letter - _ . , : / @ # and the length of value should be less than 512 bytes"
    )
    /// dtmanager/twin.go dealTwinSync: what a `cloud_updated` that fails to decode reports (note the case).
    public static let syncUnmarshal = TwinError(
        code: 400, reason: "unmarshal update request body failed, Please check the request")
    // dtmanager/twin.go
    public static let deviceNotFound = TwinError(code: 404, reason: "update rejected due to the device is not existed")
    public static let requestBodyWrong = TwinError(code: 400, reason: "the request body is wrong")
    // dtcommon/util.go ValidateValue
    public static let notInt = TwinError(code: 400, reason: "the value is not int or integer")
    public static let notFloat = TwinError(code: 400, reason: "the value is not float")
    public static let notBool = TwinError(code: 400, reason: "the bool value must be true or false")
    public static let typeNotAllowed = TwinError(code: 400, reason: "the value type is not allowed")
}

/// Key, value and type checks.
public enum TwinValidation {
    /// `^[a-zA-Z0-9-_.,:/@#]{1,128}$`
    public static func isValidKey(_ key: String) -> Bool { matches(key, maxLength: 128) }

    /// `^[a-zA-Z0-9-_.,:/@#]{1,512}$`
    public static func isValidValue(_ value: String) -> Bool { matches(value, maxLength: 512) }

    static func matches(_ s: String, maxLength: Int) -> Bool {
        var count = 0
        for b in s.utf8 {
            count += 1
            if count > maxLength { return false }
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ","), UInt8(ascii: ":"),
                UInt8(ascii: "/"), UInt8(ascii: "@"), UInt8(ascii: "#"):
                continue
            default:
                return false
            }
        }
        return count >= 1
    }

    /// `UnmarshalDeviceTwinUpdate`'s checks after decoding: `twin` present, keys and non-empty values match the
    /// patterns. Keys are checked in sorted order (Go's map order is random), key before values.
    public static func check(_ update: DeviceTwinUpdate) -> TwinError? {
        guard let twin = update.twin else { return .noTwinKey }
        for key in twin.keys.sorted() {
            guard isValidKey(key) else { return .badKey }
            guard let value = twin[key]! else { continue }
            if let v = value.expected?.value, !v.isEmpty, !isValidValue(v) { return .badValue }
            if let v = value.actual?.value, !v.isEmpty, !isValidValue(v) { return .badValue }
        }
        return nil
    }

    /// `ValidateValue`: whether `value` fits `type`. `double` is accepted as a float64 (edgecore rejects it;
    /// kubeedge-wire.md §6.4 asks us to accept it); `bytes` and any other unknown type are rejected.
    public static func validate(type: String, value: String) -> TwinError? {
        switch type {
        case "", TwinValueType.string, TwinValueType.deleted:
            return nil
        case TwinValueType.int, TwinValueType.integer:
            return Int64(value) == nil ? .notInt : nil
        case TwinValueType.float, TwinValueType.double:
            return isGoFloat(value) ? nil : .notFloat
        case TwinValueType.boolean:
            return value == "true" || value == "false" ? nil : .notBool
        default:
            return .typeNotAllowed
        }
    }

    /// strconv.ParseFloat(value, 64) succeeds: Swift's parser accepts the same syntax for the strings that pass
    /// the value pattern; out-of-range magnitudes (which Go reports as ErrRange) are rejected.
    static func isGoFloat(_ value: String) -> Bool {
        let lower = TwinCodec.asciiLowercased(value)
        // Go wants a 'p' exponent in hexadecimal floats; Swift does not.
        if lower.contains("0x"), !lower.contains("p") { return false }
        guard let d = Double(value) else { return false }
        if d.isFinite { return true }
        if d.isNaN { return true }
        var text = lower
        if text.hasPrefix("-") || text.hasPrefix("+") { text.removeFirst() }
        return text == "inf" || text == "infinity"
    }
}
