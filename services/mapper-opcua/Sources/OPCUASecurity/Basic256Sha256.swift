// SecurityPolicy Basic256Sha256 (OPC 10000-7): RSA-SHA256 (PKCS#1 v1.5) signatures, RSA-OAEP (SHA-1) encryption,
// HMAC-SHA256 and AES-256-CBC for messages, P_SHA256 key derivation; and the client's application instance
// certificate, from KubeEdge's `certificate`/`privateKey` files. Apart from the OPCUA module because swift-crypto
// weighs more than the codecs. swift-certificates is not used: all it would do here is find a certificate's public
// key, and linking it cost mapper-opcua ~0.5 MB of idle memory (its Swift metadata), above mapper-modbus.

import _CryptoExtras
import Crypto
import Foundation
import OPCUA

public struct Basic256Sha256: UACrypto {
    public static let uri = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
    public let policyURI = Basic256Sha256.uri
    public let clientCertificate: [UInt8]
    public let serverCertificate: [UInt8]
    public let serverThumbprint: [UInt8]
    let signingKey: _RSA.Signing.PrivateKey
    let decryptionKey: Immutable<_RSA.Encryption.PrivateKey>
    let serverVerifyingKey: _RSA.Signing.PublicKey
    let serverEncryptionKey: Immutable<_RSA.Encryption.PublicKey>

    public init(identity: UAApplicationIdentity, serverCertificate: [UInt8]) throws {
        clientCertificate = identity.certificateDER
        signingKey = identity.key
        decryptionKey = Immutable(try _RSA.Encryption.PrivateKey(derRepresentation: identity.key.derRepresentation))
        self.serverCertificate = serverCertificate
        serverThumbprint = Array(Insecure.SHA1.hash(data: serverCertificate))
        let rsa: _RSA.Signing.PublicKey
        do {
            rsa = try _RSA.Signing.PublicKey(derRepresentation: try DERCertificate.subjectPublicKeyInfo(serverCertificate))
        } catch {
            throw UASecurityError("the server's certificate has no usable RSA key: \(error)")
        }
        serverVerifyingKey = rsa
        serverEncryptionKey = Immutable(try _RSA.Encryption.PublicKey(derRepresentation: rsa.derRepresentation))
    }

    public var clientKeySize: Int { signingKey.keySizeInBits / 8 }
    public var serverKeySize: Int { serverVerifyingKey.keySizeInBits / 8 }
    public func asymmetricPlainBlock(keySize: Int) -> Int { keySize - 42 }

    public func asymmetricSign(_ data: [UInt8]) throws -> [UInt8] {
        let signature = try signingKey.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5)
        return Array(signature.rawRepresentation)
    }

    public func asymmetricVerify(_ data: [UInt8], signature: [UInt8]) -> Bool {
        serverVerifyingKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature),
                                            for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5)
    }

    public func asymmetricEncrypt(_ data: [UInt8]) throws -> [UInt8] {
        let block = asymmetricPlainBlock(keySize: serverKeySize)
        var out: [UInt8] = []
        for start in stride(from: 0, to: data.count, by: block) {
            out += try serverEncryptionKey.value.encrypt(data[start..<min(start + block, data.count)], padding: .PKCS1_OAEP)
        }
        return out
    }

    public func asymmetricDecrypt(_ data: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        for start in stride(from: 0, to: data.count, by: clientKeySize) {
            out += try decryptionKey.value.decrypt(data[start..<min(start + clientKeySize, data.count)], padding: .PKCS1_OAEP)
        }
        return out
    }

    public func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: key)))
    }

    public let symmetricSignatureSize = 32
    public let symmetricKeySize = 32
    public let symmetricBlockSize = 16

    public func symmetricEncrypt(key: [UInt8], iv: [UInt8], _ data: [UInt8]) throws -> [UInt8] {
        Array(try AES._CBC.encrypt(data, using: SymmetricKey(data: key), iv: try AES._CBC.IV(ivBytes: iv), noPadding: true))
    }

    public func symmetricDecrypt(key: [UInt8], iv: [UInt8], _ data: [UInt8]) throws -> [UInt8] {
        Array(try AES._CBC.decrypt(data, using: SymmetricKey(data: key), iv: try AES._CBC.IV(ivBytes: iv), noPadding: true))
    }

    public func random(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    public let asymmetricSignatureURI = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    public let asymmetricEncryptionURI = "http://www.w3.org/2001/04/xmlenc#rsa-oaep"
}

/// A key swift-crypto does not mark Sendable (the encryption keys): never mutated after init, and BoringSSL's RSA
/// operations on one key may run on several threads at once.
final class Immutable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The client's application instance certificate and key, from KubeEdge's `certificate`/`privateKey` files (PEM or
/// DER; the key PKCS#1 or PKCS#8), as KubeEdge's OPC UA mapper requires them for a secured policy.
public struct UAApplicationIdentity: Sendable {
    public let certificateDER: [UInt8]
    public let key: _RSA.Signing.PrivateKey

    public init(certificatePath: String, keyPath: String) throws {
        let certificateData = Array(try Data(contentsOf: URL(fileURLWithPath: certificatePath)))
        let keyData = try Data(contentsOf: URL(fileURLWithPath: keyPath))
        if let pem = DERCertificate.fromPEM(String(decoding: certificateData, as: UTF8.self)) {
            certificateDER = pem
        } else {
            certificateDER = certificateData
        }
        _ = try DERCertificate.subjectPublicKeyInfo(certificateDER)  // it is a certificate
        if let text = String(data: keyData, encoding: .utf8), text.contains("-----BEGIN") {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: text)
        } else {
            key = try _RSA.Signing.PrivateKey(derRepresentation: keyData)
        }
    }
}

/// Just enough DER to find an X.509 certificate's SubjectPublicKeyInfo (RFC 5280 §4.1): Certificate ::= SEQUENCE {
/// tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity, subject,
/// subjectPublicKeyInfo, … }, … }.
enum DERCertificate {
    struct Element {
        var tag: UInt8
        var range: Range<Int>  // the whole TLV
        var content: Range<Int>
    }

    static func element(_ bytes: [UInt8], at index: Int, end: Int) throws -> Element {
        guard index + 2 <= end else { throw UASecurityError("DER truncated") }
        let tag = bytes[index]
        var length = Int(bytes[index + 1])
        var start = index + 2
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count >= 1, count <= 4, start + count <= end else { throw UASecurityError("bad DER length") }
            length = 0
            for byte in bytes[start..<(start + count)] { length = length << 8 | Int(byte) }
            start += count
        }
        guard length >= 0, start + length <= end else { throw UASecurityError("DER element runs past its parent") }
        return Element(tag: tag, range: index..<(start + length), content: start..<(start + length))
    }

    static func subjectPublicKeyInfo(_ der: [UInt8]) throws -> [UInt8] {
        let certificate = try element(der, at: 0, end: der.count)
        guard certificate.tag == 0x30 else { throw UASecurityError("not a certificate") }
        let tbs = try element(der, at: certificate.content.lowerBound, end: certificate.content.upperBound)
        guard tbs.tag == 0x30 else { throw UASecurityError("no TBSCertificate") }
        var index = tbs.content.lowerBound
        var field = try element(der, at: index, end: tbs.content.upperBound)
        if field.tag == 0xA0 {  // version
            index = field.range.upperBound
            field = try element(der, at: index, end: tbs.content.upperBound)
        }
        // serialNumber, signature, issuer, validity, subject; then subjectPublicKeyInfo.
        for _ in 0..<5 {
            index = field.range.upperBound
            field = try element(der, at: index, end: tbs.content.upperBound)
        }
        guard field.tag == 0x30 else { throw UASecurityError("no SubjectPublicKeyInfo") }
        return Array(der[field.range])
    }

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
