import Crypto
import Foundation
import SwiftASN1
import X509

/// The cloud's certificate authority and what it signs (wire reference §3): an ECDSA P-256 CA, the cloudhub server
/// certificate with the advertised IPs/DNS names, edge client certificates from CSRs, and KubeEdge join tokens.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    public let privateKey: P256.Signing.PrivateKey

    public var certificateDER: [UInt8] { (try? PKI.der(certificate)) ?? [] }

    /// Loads `ca.crt`/`ca.key` (PEM) from `directory`, or creates and stores a new CA there.
    public static func loadOrCreate(in directory: String) throws -> CertificateAuthority {
        let certPath = directory + "/ca.crt"
        let keyPath = directory + "/ca.key"
        if FileManager.default.fileExists(atPath: certPath), FileManager.default.fileExists(atPath: keyPath) {
            let certificate = try Certificate(pemEncoded: try String(contentsOfFile: certPath, encoding: .utf8))
            let key = try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOfFile: keyPath, encoding: .utf8))
            return CertificateAuthority(certificate: certificate, privateKey: key)
        }
        let ca = try create()
        try PKI.write(try ca.certificate.serializeAsPEM().pemString, to: certPath, mode: 0o644)
        try PKI.write(ca.privateKey.pemRepresentation, to: keyPath, mode: 0o600)
        return ca
    }

    /// A new CA: CN `KubeEdge`, 100 years, as cloudcore makes it (§3.4).
    public static func create() throws -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("KubeEdge") }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(100 * 365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
            },
            issuerPrivateKey: .init(key))
        return CertificateAuthority(certificate: certificate, privateKey: key)
    }

    /// The cloudhub server certificate: server auth, SANs = the advertised IPs and DNS names.
    public func issueServerCertificate(
        key: P256.Signing.PrivateKey, addresses: [String], validity: TimeInterval = 100 * 365 * 86400
    ) throws -> Certificate {
        var names: [GeneralName] = []
        for address in addresses {
            if let ip = PKI.ipAddressBytes(address) {
                names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(ip))))
            } else {
                names.append(.dnsName(address))
            }
        }
        let now = Date()
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(validity),
            issuer: certificate.subject,
            subject: try DistinguishedName {
                OrganizationName("KubeEdge")
                CommonName("KubeEdge")
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(privateKey))
    }

    /// Signs an edge's CSR (DER): subject from the CSR, client auth, 365 days by default (§3.4).
    public func signEdgeCSR(_ der: [UInt8], validity: TimeInterval = 365 * 86400) throws -> Certificate {
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(derEncoded: der)
        } catch {
            throw PKIError("the body is not a DER-encoded PKCS#10 certificate signing request")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw PKIError("the certificate signing request's signature does not verify")
        }
        let now = Date()
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: csr.publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(validity),
            issuer: certificate.subject, subject: csr.subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.clientAuth])
            },
            issuerPrivateKey: .init(privateKey))
    }

    /// A client certificate for `key` with subject CN=`commonName`, O=`organization` (Kubernetes reads the user
    /// and group from them), client auth only.
    public func issueClientCertificate(
        key: P256.Signing.PrivateKey, commonName: String, organization: String?,
        validity: TimeInterval = 10 * 365 * 86400
    ) throws -> Certificate {
        let now = Date()
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(validity),
            issuer: certificate.subject,
            subject: try DistinguishedName {
                if let organization { OrganizationName(organization) }
                CommonName(commonName)
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.clientAuth])
            },
            issuerPrivateKey: .init(privateKey))
    }

    /// Whether `certificate` was signed by this CA and is valid now.
    public func hasIssued(_ certificate: Certificate, at time: Date = Date()) -> Bool {
        certificate.issuer == self.certificate.subject
            && self.certificate.publicKey.isValidSignature(certificate.signature, for: certificate)
            && certificate.notValidBefore <= time && time <= certificate.notValidAfter
    }

    // MARK: join tokens

    /// The HMAC key of join tokens: the CA private key (DER), as cloudcore keys them.
    private var tokenKey: SymmetricKey { SymmetricKey(data: privateKey.derRepresentation) }

    /// A KubeEdge join token: `<hex sha256 of the CA DER>.<HS256 JWT {"exp":…}>` (4 dot-separated parts, §3.2).
    public func makeToken(expiresAt: Date) -> String {
        let header = PKI.base64URL(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let payload = PKI.base64URL(Array(#"{"exp":\#(Int64(expiresAt.timeIntervalSince1970))}"#.utf8))
        let signed = header + "." + payload
        let mac = HMAC<SHA256>.authenticationCode(for: Array(signed.utf8), using: tokenKey)
        return PKI.hex(SHA256.hash(data: certificateDER)) + "." + signed + "." + PKI.base64URL(Array(mac))
    }

    /// Checks the JWT part of a token (what an edge sends as `Authorization: Bearer <jwt>`).
    public func verifyJWT(_ jwt: String, now: Date = Date()) throws(PKIError) {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw PKIError("the token is not a JWT (expected 3 dot-separated parts)") }
        let signed = Array("\(parts[0]).\(parts[1])".utf8)
        guard let signature = PKI.base64URLDecode(String(parts[2])),
              HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signed, using: tokenKey)
        else { throw PKIError("the token's signature does not verify against this cloud's CA") }
        guard let payload = PKI.base64URLDecode(String(parts[1])),
              let claims = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
              let exp = (claims["exp"] as? NSNumber)?.doubleValue
        else { throw PKIError("the token has no expiry claim") }
        guard now.timeIntervalSince1970 < exp else { throw PKIError("the token has expired") }
    }
}

public struct PKIError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// An edge's identity: its private key and the certificate the cloud signed for it, plus the cloud's CA.
public struct EdgeIdentity: Sendable {
    public let caCertificate: Certificate
    public let certificate: Certificate
    public let privateKey: P256.Signing.PrivateKey

    public init(caCertificate: Certificate, certificate: Certificate, privateKey: P256.Signing.PrivateKey) {
        self.caCertificate = caCertificate
        self.certificate = certificate
        self.privateKey = privateKey
    }
}

public enum PKI {
    /// The subject edgecore puts in every CSR (§3.3); ours does the same so the cloud sees no difference.
    public static func edgeSubject() throws -> DistinguishedName {
        try DistinguishedName {
            CountryName("CN")
            StateOrProvinceName("Zhejiang")
            LocalityName("Hangzhou")
            OrganizationName("kubeEdge")
            CommonName("kubeedge.io")
        }
    }

    public static func makeCSR(key: P256.Signing.PrivateKey) throws -> [UInt8] {
        let csr = try CertificateSigningRequest(
            version: .v1, subject: try edgeSubject(), privateKey: .init(key), attributes: .init(),
            signatureAlgorithm: .ecdsaWithSHA256)
        var serializer = DER.Serializer()
        try serializer.serialize(csr)
        return serializer.serializedBytes
    }

    public static func der(_ certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }

    public static func pem(_ certificate: Certificate) throws -> String {
        try certificate.serializeAsPEM().pemString
    }

    /// Splits a join token into the CA hash and the JWT, or throws if it is not KubeEdge's 4-part format.
    public static func parseToken(_ token: String) throws(PKIError) -> (caHash: String, jwt: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].count == 64 else {
            throw PKIError("the join token must have 4 dot-separated parts: <CA sha256 hex>.<JWT>")
        }
        return (String(parts[0]), parts[1...].joined(separator: "."))
    }

    public static func sha256Hex(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func base64URLDecode(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map { Array($0) }
    }

    /// IPv4 dotted quad or IPv6 text → network bytes; nil for a DNS name.
    public static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    public static func write(_ text: String, to path: String, mode: Int) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }
}
