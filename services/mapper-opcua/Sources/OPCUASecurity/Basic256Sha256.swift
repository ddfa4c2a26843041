// SecurityPolicy Basic256Sha256 (OPC 10000-7): RSA-SHA256 (PKCS#1 v1.5) signatures, RSA-OAEP (SHA-1) encryption,
// HMAC-SHA256 and AES-256-CBC for messages, P_SHA256 key derivation; and the client's application instance
// certificate, from KubeEdge's `certificate`/`privateKey` files. On OpenSSL's libcrypto, which every edge service
// already maps through libmosquitto: swift-crypto cost mapper-opcua ~0.8 MB of idle memory (BoringSSL's relocated
// tables and the Swift metadata), above mapper-modbus; this costs nothing at idle.

import COpenSSL
import Foundation
import OPCUA

public struct Basic256Sha256: UACrypto {
    public static let uri = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
    public let policyURI = Basic256Sha256.uri
    public let clientCertificate: [UInt8]
    public let serverCertificate: [UInt8]
    public let serverThumbprint: [UInt8]
    public let clientKeySize: Int
    public let serverKeySize: Int
    let clientKey: EVPKey
    let serverKey: EVPKey

    public init(identity: UAApplicationIdentity, serverCertificate: [UInt8]) throws {
        clientCertificate = identity.certificateDER
        clientKey = identity.key
        self.serverCertificate = serverCertificate
        serverThumbprint = try LibCrypto.digest(serverCertificate, EVP_sha1())
        serverKey = try EVPKey(certificateDER: serverCertificate)
        clientKeySize = Int(EVP_PKEY_get_size(clientKey.pointer))
        serverKeySize = Int(EVP_PKEY_get_size(serverKey.pointer))
        guard EVP_PKEY_get_base_id(serverKey.pointer) == EVP_PKEY_RSA, EVP_PKEY_get_base_id(clientKey.pointer) == EVP_PKEY_RSA
        else { throw UASecurityError("Basic256Sha256 needs RSA keys") }
    }

    public func asymmetricPlainBlock(keySize: Int) -> Int { keySize - 42 }

    public func asymmetricSign(_ data: [UInt8]) throws -> [UInt8] {
        try LibCrypto.sign(data, key: clientKey)
    }

    public func asymmetricVerify(_ data: [UInt8], signature: [UInt8]) -> Bool {
        LibCrypto.verify(data, signature: signature, key: serverKey)
    }

    public func asymmetricEncrypt(_ data: [UInt8]) throws -> [UInt8] {
        let block = asymmetricPlainBlock(keySize: serverKeySize)
        var out: [UInt8] = []
        for start in stride(from: 0, to: data.count, by: block) {
            out += try LibCrypto.oaep(Array(data[start..<min(start + block, data.count)]), key: serverKey, encrypt: true)
        }
        return out
    }

    public func asymmetricDecrypt(_ data: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        for start in stride(from: 0, to: data.count, by: clientKeySize) {
            out += try LibCrypto.oaep(Array(data[start..<min(start + clientKeySize, data.count)]), key: clientKey,
                                      encrypt: false)
        }
        return out
    }

    public func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        LibCrypto.hmacSHA256(key: key, data)
    }

    public let symmetricSignatureSize = 32
    public let symmetricKeySize = 32
    public let symmetricBlockSize = 16

    public func symmetricEncrypt(key: [UInt8], iv: [UInt8], _ data: [UInt8]) throws -> [UInt8] {
        try LibCrypto.aes256CBC(data, key: key, iv: iv, encrypt: true)
    }

    public func symmetricDecrypt(key: [UInt8], iv: [UInt8], _ data: [UInt8]) throws -> [UInt8] {
        try LibCrypto.aes256CBC(data, key: key, iv: iv, encrypt: false)
    }

    public func random(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        if RAND_bytes(&bytes, Int32(count)) != 1 {
            var generator = SystemRandomNumberGenerator()
            bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        }
        return bytes
    }

    public let asymmetricSignatureURI = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    public let asymmetricEncryptionURI = "http://www.w3.org/2001/04/xmlenc#rsa-oaep"
}

/// An OpenSSL key (EVP_PKEY), freed with its owner. libcrypto allows concurrent operations on one key.
final class EVPKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { EVP_PKEY_free(pointer) }

    /// The public key of a DER certificate.
    convenience init(certificateDER der: [UInt8]) throws {
        let certificate = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_X509(nil, &cursor, buffer.count)
        }
        guard let certificate else { throw LibCrypto.error("the certificate does not parse") }
        defer { X509_free(certificate) }
        guard let key = X509_get_pubkey(certificate) else { throw LibCrypto.error("the certificate has no public key") }
        self.init(key)
    }

    /// A private key in PEM (PKCS#1 or PKCS#8) or DER.
    convenience init(privateKey data: [UInt8]) throws {
        var key: OpaquePointer?
        if String(decoding: data, as: UTF8.self).contains("-----BEGIN") {
            let bio = data.withUnsafeBytes { BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }
            defer { BIO_free(bio) }
            key = PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        } else {
            key = data.withUnsafeBufferPointer { buffer -> OpaquePointer? in
                var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
                return d2i_AutoPrivateKey(nil, &cursor, buffer.count)
            }
        }
        guard let key else { throw LibCrypto.error("the private key does not parse") }
        self.init(key)
    }
}

/// The few libcrypto calls the policy needs, each checked.
enum LibCrypto {
    static func error(_ what: String) -> UASecurityError {
        var text = [CChar](repeating: 0, count: 256)
        let code = ERR_get_error()
        if code != 0 { ERR_error_string_n(code, &text, text.count) }
        ERR_clear_error()
        let reason = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return UASecurityError(code == 0 ? what : "\(what): \(reason)")
    }

    static func digest(_ data: [UInt8], _ type: OpaquePointer?) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_Digest(data, data.count, &out, &length, type, nil) == 1 else { throw error("digest failed") }
        return Array(out.prefix(Int(length)))
    }

    static func sign(_ data: [UInt8], key: EVPKey) throws -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw error("no digest context") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key.pointer) == 1 else { throw error("sign init") }
        var length = 0
        guard EVP_DigestSign(context, nil, &length, data, data.count) == 1 else { throw error("sign size") }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, data, data.count) == 1 else { throw error("sign") }
        return Array(signature.prefix(length))
    }

    static func verify(_ data: [UInt8], signature: [UInt8], key: EVPKey) -> Bool {
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, key.pointer) == 1 else { return false }
        let valid = EVP_DigestVerify(context, signature, signature.count, data, data.count) == 1
        ERR_clear_error()
        return valid
    }

    /// RSA-OAEP (SHA-1, OpenSSL's default for OAEP) of one block.
    static func oaep(_ data: [UInt8], key: EVPKey, encrypt: Bool) throws -> [UInt8] {
        guard let context = EVP_PKEY_CTX_new(key.pointer, nil) else { throw error("no key context") }
        defer { EVP_PKEY_CTX_free(context) }
        guard (encrypt ? EVP_PKEY_encrypt_init(context) : EVP_PKEY_decrypt_init(context)) == 1,
              EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_OAEP_PADDING) == 1 else { throw error("OAEP init") }
        var length = 0
        let sized = encrypt ? EVP_PKEY_encrypt(context, nil, &length, data, data.count)
            : EVP_PKEY_decrypt(context, nil, &length, data, data.count)
        guard sized == 1 else { throw error("OAEP size") }
        var out = [UInt8](repeating: 0, count: length)
        let done = encrypt ? EVP_PKEY_encrypt(context, &out, &length, data, data.count)
            : EVP_PKEY_decrypt(context, &out, &length, data, data.count)
        guard done == 1 else { throw error(encrypt ? "RSA-OAEP encryption" : "RSA-OAEP decryption") }
        return Array(out.prefix(length))
    }

    static func hmacSHA256(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 0
        let ok = "HMAC".withCString { mac in
            "SHA256".withCString { digest in
                EVP_Q_mac(nil, mac, nil, digest, nil, key, key.count, data, data.count, &out, out.count, &length)
            }
        }
        return ok == nil ? [] : Array(out.prefix(length))
    }

    static func aes256CBC(_ data: [UInt8], key: [UInt8], iv: [UInt8], encrypt: Bool) throws -> [UInt8] {
        guard key.count == 32, iv.count == 16, data.count % 16 == 0 else { throw UASecurityError("bad AES input sizes") }
        guard let context = EVP_CIPHER_CTX_new() else { throw error("no cipher context") }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_CipherInit_ex(context, EVP_aes_256_cbc(), nil, key, iv, encrypt ? 1 : 0) == 1,
              EVP_CIPHER_CTX_set_padding(context, 0) == 1 else { throw error("AES init") }
        var out = [UInt8](repeating: 0, count: data.count + 16)
        var written: Int32 = 0
        guard EVP_CipherUpdate(context, &out, &written, data, Int32(data.count)) == 1 else { throw error("AES") }
        var final: Int32 = 0
        let total = Int(written)
        guard out.withUnsafeMutableBufferPointer({ EVP_CipherFinal_ex(context, $0.baseAddress! + total, &final) }) == 1
        else { throw error("AES final") }
        return Array(out.prefix(total + Int(final)))
    }
}

/// The client's application instance certificate and key, from KubeEdge's `certificate`/`privateKey` files (PEM or
/// DER; the key PKCS#1 or PKCS#8), as KubeEdge's OPC UA mapper requires them for a secured policy.
public struct UAApplicationIdentity: Sendable {
    public let certificateDER: [UInt8]
    let key: EVPKey

    public init(certificatePath: String, keyPath: String) throws {
        let certificateData = Array(try Data(contentsOf: URL(fileURLWithPath: certificatePath)))
        certificateDER = DERCertificate.fromPEM(String(decoding: certificateData, as: UTF8.self)) ?? certificateData
        _ = try EVPKey(certificateDER: certificateDER)  // it is a certificate
        key = try EVPKey(privateKey: Array(try Data(contentsOf: URL(fileURLWithPath: keyPath))))
    }
}

enum DERCertificate {
    /// The first `CERTIFICATE` block of a PEM text, nil when there is none.
    static func fromPEM(_ text: String) -> [UInt8]? {
        guard let begin = text.range(of: "-----BEGIN CERTIFICATE-----"),
              let end = text.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<text.endIndex) else {
            return nil
        }
        let body = text[begin.upperBound..<end.lowerBound].filter { !$0.isWhitespace }
        return Data(base64Encoded: String(body)).map(Array.init)
    }
}
