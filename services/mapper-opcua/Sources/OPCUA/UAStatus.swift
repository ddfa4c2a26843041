/// OPC UA status codes (OPC 10000-4 §7.39, values from the spec's StatusCode.csv): names for the ones a mapper meets,
/// so that errors read `BadNodeIdUnknown` rather than a number.
public enum UAStatus {
    public static func isGood(_ code: UInt32) -> Bool { code & 0xC000_0000 == 0 }
    public static func isBad(_ code: UInt32) -> Bool { code & 0x8000_0000 != 0 }

    /// The name of the code (its severity/subcode part), or its hex value.
    public static func name(_ code: UInt32) -> String {
        names[code & 0xFFFF_0000] ?? "0x" + String(code, radix: 16, uppercase: true)
    }

    static let names: [UInt32: String] = [
        0x0000_0000: "Good",
        0x4000_0000: "Uncertain",
        0x8001_0000: "BadUnexpectedError",
        0x8002_0000: "BadInternalError",
        0x8005_0000: "BadCommunicationError",
        0x8006_0000: "BadEncodingError",
        0x8007_0000: "BadDecodingError",
        0x800A_0000: "BadTimeout",
        0x800B_0000: "BadServiceUnsupported",
        0x800C_0000: "BadShutdown",
        0x800E_0000: "BadServerHalted",
        0x800F_0000: "BadNothingToDo",
        0x8013_0000: "BadSecurityChecksFailed",
        0x801F_0000: "BadUserAccessDenied",
        0x8020_0000: "BadIdentityTokenInvalid",
        0x8021_0000: "BadIdentityTokenRejected",
        0x8022_0000: "BadSecureChannelIdInvalid",
        0x8025_0000: "BadSessionIdInvalid",
        0x8026_0000: "BadSessionClosed",
        0x8027_0000: "BadSessionNotActivated",
        0x8028_0000: "BadSubscriptionIdInvalid",
        0x8032_0000: "BadWaitingForInitialData",
        0x8033_0000: "BadNodeIdInvalid",
        0x8034_0000: "BadNodeIdUnknown",
        0x8035_0000: "BadAttributeIdInvalid",
        0x8036_0000: "BadIndexRangeInvalid",
        0x803A_0000: "BadNotReadable",
        0x803B_0000: "BadNotWritable",
        0x803C_0000: "BadOutOfRange",
        0x803D_0000: "BadNotSupported",
        0x8054_0000: "BadSecurityModeRejected",
        0x8055_0000: "BadSecurityPolicyRejected",
        0x8056_0000: "BadTooManySessions",
        0x8057_0000: "BadUserSignatureInvalid",
        0x8060_0000: "BadBrowseNameInvalid",
        0x806F_0000: "BadNoMatch",
        0x8073_0000: "BadWriteNotSupported",
        0x8074_0000: "BadTypeMismatch",
        0x8078_0000: "BadTooManyPublishRequests",
        0x8079_0000: "BadNoSubscription",
        0x807B_0000: "BadMessageNotAvailable",
        0x807F_0000: "BadTcpSecureChannelUnknown",
        0x8080_0000: "BadTcpMessageTooLarge",
        0x8082_0000: "BadTcpInternalError",
        0x8083_0000: "BadTcpEndpointUrlInvalid",
        0x8085_0000: "BadRequestTimeout",
        0x8086_0000: "BadSecureChannelClosed",
        0x808A_0000: "BadNotConnected",
        0x809B_0000: "BadNoData",
        0x80AB_0000: "BadInvalidArgument",
        0x80AD_0000: "BadDisconnect",
        0x80AE_0000: "BadConnectionClosed",
    ]
}
