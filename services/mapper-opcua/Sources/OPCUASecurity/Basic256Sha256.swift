// SecurityPolicy Basic256Sha256 (OPC 10000-7): RSA-SHA256 (PKCS#1 v1.5) signatures, RSA-OAEP (SHA-1) encryption,
// HMAC-SHA256 and AES-256-CBC for messages, P_SHA256 key derivation; and the client's application instance
// certificate. Apart from the OPCUA module because swift-crypto and swift-certificates weigh more than the codecs.

import _CryptoExtras
import Crypto
import Foundation
import OPCUA
import SwiftASN1
import X509

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
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: serverCertificate)
        } catch {
            throw UASecurityError("the server's certificate does not parse: \(error)")
        }
        guard let rsa = _RSA.Signing.PublicKey(certificate.publicKey) else {
            throw UASecurityError("the server's certificate has no RSA key")
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

/// The client's application instance certificate and key: loaded from KubeEdge's `certificate`/`privateKey` files
/// (PEM or DER), or made once, self-signed, when none are configured.
public struct UAApplicationIdentity: Sendable {
    public let certificateDER: [UInt8]
    public let key: _RSA.Signing.PrivateKey

    public static let applicationURI = "urn:kubeedge-swift:mapper-opcua"

    public init(certificatePath: String, keyPath: String) throws {
        let certificateData = try Data(contentsOf: URL(fileURLWithPath: certificatePath))
        let keyData = try Data(contentsOf: URL(fileURLWithPath: keyPath))
        if let text = String(data: certificateData, encoding: .utf8), text.contains("-----BEGIN") {
            certificateDER = try Certificate(pemEncoded: text).serializedDER()
        } else {
            certificateDER = Array(certificateData)
        }
        if let text = String(data: keyData, encoding: .utf8), text.contains("-----BEGIN") {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: text)
        } else {
            key = try _RSA.Signing.PrivateKey(derRepresentation: keyData)
        }
    }

    /// A new self-signed 2048-bit RSA certificate with the application URI the client announces.
    public static func generate(host: String = ProcessInfo.processInfo.hostName) throws -> UAApplicationIdentity {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let name = try DistinguishedName {
            OrganizationName("KubeEdge")
            CommonName("mapper-opcua")
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .sha256WithRSAEncryption,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, nonRepudiation: true, keyEncipherment: true,
                                  dataEncipherment: true))
                try ExtendedKeyUsage([.clientAuth, .serverAuth])
                SubjectAlternativeNames([.uniformResourceIdentifier(applicationURI), .dnsName(host)])
            },
            issuerPrivateKey: .init(key))
        return UAApplicationIdentity(certificateDER: try certificate.serializedDER(), key: key)
    }

    init(certificateDER: [UInt8], key: _RSA.Signing.PrivateKey) {
        self.certificateDER = certificateDER
        self.key = key
    }
}

extension Certificate {
    func serializedDER() throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(self)
        return serializer.serializedBytes
    }
}
