// Secure conversation with a signing and encrypting security policy (OPC 10000-6 §6.7.2, §6.7.4-6.7.5): the
// asymmetric chunks of OpenSecureChannel (signed with our key, encrypted with the server's), the symmetric chunks of
// everything else (HMAC, AES-CBC) with keys derived from both nonces. The primitives come from a `UACrypto` (the
// OPCUASecurity module implements Basic256Sha256 with swift-crypto); the framing here is pure.

/// MessageSecurityMode.
public enum UASecurityMode: Int32, Sendable, Equatable {
    case none = 1
    case sign = 2
    case signAndEncrypt = 3
}

/// The primitives of one security policy, with our certificate and key and the server's certificate.
public protocol UACrypto: Sendable {
    var policyURI: String { get }
    var clientCertificate: [UInt8] { get }
    var serverCertificate: [UInt8] { get }
    /// SHA-1 of the server's certificate (the receiver thumbprint).
    var serverThumbprint: [UInt8] { get }
    /// Key sizes in bytes.
    var clientKeySize: Int { get }
    var serverKeySize: Int { get }
    /// Plain-text block of an asymmetric encryption with a key of `keySize` bytes (OAEP SHA-1: keySize − 42).
    func asymmetricPlainBlock(keySize: Int) -> Int
    func asymmetricSign(_ data: [UInt8]) throws -> [UInt8]
    func asymmetricVerify(_ data: [UInt8], signature: [UInt8]) -> Bool
    /// Encrypts for the server (block by block).
    func asymmetricEncrypt(_ data: [UInt8]) throws -> [UInt8]
    /// Decrypts what the server encrypted for us (block by block).
    func asymmetricDecrypt(_ data: [UInt8]) throws -> [UInt8]
    func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8]
    var symmetricSignatureSize: Int { get }
    var symmetricKeySize: Int { get }
    var symmetricBlockSize: Int { get }
    func symmetricEncrypt(key: [UInt8], iv: [UInt8], _ data: [UInt8]) throws -> [UInt8]
    func symmetricDecrypt(key: [UInt8], iv: [UInt8], _ data: [UInt8]) throws -> [UInt8]
    func random(_ count: Int) -> [UInt8]
    /// The signature algorithm URI of session signatures.
    var asymmetricSignatureURI: String { get }
    /// The encryption algorithm URI of encrypted user passwords.
    var asymmetricEncryptionURI: String { get }
}

/// One direction's symmetric keys (OPC 10000-6 §6.7.5).
public struct UASymmetricKeys: Sendable, Equatable {
    public var signing: [UInt8]
    public var encrypting: [UInt8]
    public var iv: [UInt8]

    /// P_SHA256(secret, seed) cut into signing key, encrypting key and IV.
    public static func derive(_ crypto: any UACrypto, secret: [UInt8], seed: [UInt8]) -> UASymmetricKeys {
        let signingLength = crypto.symmetricSignatureSize  // the policy's signing key is as long as its signature
        let keyLength = crypto.symmetricKeySize
        let ivLength = crypto.symmetricBlockSize
        var output: [UInt8] = []
        var a = seed
        while output.count < signingLength + keyLength + ivLength {
            a = crypto.hmac(key: secret, a)
            output += crypto.hmac(key: secret, a + seed)
        }
        return UASymmetricKeys(
            signing: Array(output[0..<signingLength]),
            encrypting: Array(output[signingLength..<(signingLength + keyLength)]),
            iv: Array(output[(signingLength + keyLength)..<(signingLength + keyLength + ivLength)]))
    }
}

public struct UASecurityError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Builds and opens secured chunks.
public enum UASecuredChunks {
    /// The asymmetric security header of our OPN chunks.
    static func asymmetricHeader(_ crypto: any UACrypto) -> [UInt8] {
        var w = UAWriter()
        w.string(crypto.policyURI)
        w.byteString(crypto.clientCertificate)
        w.byteString(crypto.serverThumbprint)
        return w.bytes
    }

    /// Padding bytes for `length` bytes of plain text that must end on a `block` boundary after `trailer` more bytes.
    static func padding(length: Int, block: Int, trailer: Int, extraByte: Bool) -> [UInt8] {
        let sizeBytes = extraByte ? 2 : 1
        let count = (block - ((length + sizeBytes + trailer) % block)) % block
        var bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: count), count: count + 1)
        if extraByte { bytes.append(UInt8(truncatingIfNeeded: count >> 8)) }
        return bytes
    }

    /// An OPN chunk signed with our key and encrypted for the server.
    public static func openChunk(_ crypto: any UACrypto, channelID: UInt32, sequence: UInt32, requestID: UInt32,
                                 payload: [UInt8]) throws -> UAChunk {
        let header = asymmetricHeader(crypto)
        var plain = UAWriter()
        plain.uint32(sequence)
        plain.uint32(requestID)
        plain.append(payload)
        let block = crypto.asymmetricPlainBlock(keySize: crypto.serverKeySize)
        let signatureSize = crypto.clientKeySize
        var plaintext = plain.bytes
        plaintext += padding(length: plaintext.count, block: block, trailer: signatureSize,
                             extraByte: crypto.serverKeySize > 256)
        let encryptedLength = (plaintext.count + signatureSize) / block * crypto.serverKeySize
        var prefix = UAWriter()
        prefix.append(Array("OPN".utf8))
        prefix.byte(UInt8(ascii: "F"))
        prefix.uint32(UInt32(8 + 4 + header.count + encryptedLength))
        prefix.uint32(channelID)
        prefix.append(header)
        let signature = try crypto.asymmetricSign(prefix.bytes + plaintext)
        let encrypted = try crypto.asymmetricEncrypt(plaintext + signature)
        guard encrypted.count == encryptedLength else {
            throw UASecurityError("encrypted \(encrypted.count) bytes, expected \(encryptedLength)")
        }
        return UAChunk(messageType: "OPN", body: Array((prefix.bytes + encrypted)[8...]))
    }

    /// The sequence header and payload of the server's OPN chunk, decrypted and checked.
    public static func openReceived(_ crypto: any UACrypto, _ chunk: UAChunk) throws -> UASecureConversation.Received {
        var r = UAReader(chunk.body)
        let channel = try r.uint32()
        let policy = try r.string()
        _ = try r.byteString()  // the server's certificate (we already have it)
        _ = try r.byteString()
        guard policy == crypto.policyURI else {
            throw UASecurityError("the server answered with policy \(policy ?? "null")")
        }
        let headerEnd = 8 + r.offset
        let encrypted = Array(chunk.body[r.offset...])
        guard encrypted.count % crypto.clientKeySize == 0, !encrypted.isEmpty else {
            throw UASecurityError("encrypted part of \(encrypted.count) bytes is not whole blocks")
        }
        let decrypted = try crypto.asymmetricDecrypt(encrypted)
        let signatureSize = crypto.serverKeySize
        guard decrypted.count > signatureSize + 9 else { throw UASecurityError("OPN response too short") }
        let signed = Array(chunk.bytes[0..<headerEnd]) + Array(decrypted[0..<(decrypted.count - signatureSize)])
        guard crypto.asymmetricVerify(signed, signature: Array(decrypted.suffix(signatureSize))) else {
            throw UASecurityError("the server's OPN signature does not verify")
        }
        let content = try removePadding(Array(decrypted.dropLast(signatureSize)), extraByte: crypto.clientKeySize > 256)
        var inner = UAReader(content)
        let sequence = try inner.uint32()
        let request = try inner.uint32()
        return UASecureConversation.Received(channelID: channel, sequenceNumber: sequence, requestID: request,
                                             payload: Array(try inner.take(inner.remaining)))
    }

    static func removePadding(_ bytes: [UInt8], extraByte: Bool) throws -> [UInt8] {
        guard let last = bytes.last else { throw UASecurityError("no padding") }
        var count = Int(last)
        var sizeBytes = 1
        if extraByte {
            guard bytes.count >= 2 else { throw UASecurityError("no padding") }
            count = Int(bytes[bytes.count - 2]) | Int(last) << 8
            sizeBytes = 2
        }
        guard bytes.count >= count + sizeBytes + 8 else { throw UASecurityError("padding longer than the message") }
        return Array(bytes.dropLast(count + sizeBytes))
    }

    /// A MSG/CLO chunk signed (and encrypted) with our symmetric keys.
    public static func symmetricChunk(_ crypto: any UACrypto, mode: UASecurityMode, keys: UASymmetricKeys,
                                      messageType: String, chunkType: UInt8, channelID: UInt32, tokenID: UInt32,
                                      sequence: UInt32, requestID: UInt32, payload: [UInt8]) throws -> UAChunk {
        var plain = UAWriter()
        plain.uint32(sequence)
        plain.uint32(requestID)
        plain.append(payload)
        var plaintext = plain.bytes
        let signatureSize = crypto.symmetricSignatureSize
        if mode == .signAndEncrypt {
            plaintext += padding(length: plaintext.count, block: crypto.symmetricBlockSize, trailer: signatureSize,
                                 extraByte: false)
        }
        var prefix = UAWriter()
        prefix.append(Array(messageType.utf8))
        prefix.byte(chunkType)
        prefix.uint32(UInt32(8 + 8 + plaintext.count + signatureSize))
        prefix.uint32(channelID)
        prefix.uint32(tokenID)
        let signature = crypto.hmac(key: keys.signing, prefix.bytes + plaintext)
        var body = plaintext + signature
        if mode == .signAndEncrypt { body = try crypto.symmetricEncrypt(key: keys.encrypting, iv: keys.iv, body) }
        return UAChunk(messageType: messageType, chunkType: chunkType, body: Array((prefix.bytes + body)[8...]))
    }

    /// A MSG/CLO chunk from the server, decrypted and checked with the server's symmetric keys.
    public static func symmetricReceived(_ crypto: any UACrypto, mode: UASecurityMode, keys: UASymmetricKeys,
                                         _ chunk: UAChunk) throws -> UASecureConversation.Received {
        var r = UAReader(chunk.body)
        let channel = try r.uint32()
        _ = try r.uint32()  // token id
        var body = Array(chunk.body[r.offset...])
        if mode == .signAndEncrypt {
            guard body.count % crypto.symmetricBlockSize == 0 else {
                throw UASecurityError("encrypted part of \(body.count) bytes is not whole blocks")
            }
            body = try crypto.symmetricDecrypt(key: keys.encrypting, iv: keys.iv, body)
        }
        let signatureSize = crypto.symmetricSignatureSize
        guard body.count >= signatureSize + 8 else { throw UASecurityError("message too short") }
        let signed = Array(chunk.bytes[0..<16]) + Array(body.dropLast(signatureSize))
        guard crypto.hmac(key: keys.signing, signed) == Array(body.suffix(signatureSize)) else {
            throw UASecurityError("the server's message signature does not verify")
        }
        var content = Array(body.dropLast(signatureSize))
        if mode == .signAndEncrypt { content = try removePadding(content, extraByte: false) }
        var inner = UAReader(content)
        let sequence = try inner.uint32()
        let request = try inner.uint32()
        return UASecureConversation.Received(channelID: channel, sequenceNumber: sequence, requestID: request,
                                             payload: Array(try inner.take(inner.remaining)))
    }
}
