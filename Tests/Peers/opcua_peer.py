#!/usr/bin/env python3
"""OPC UA test peer for mapper-opcua's tests and benchmark (asyncua 2.1.0, venv from scripts/setup-peers.sh).

   opcua_peer.py --port PORT [--user NAME --password SECRET] [--tick SECONDS] [--secure DIR]

SecurityPolicy None; with --secure also Basic256Sha256 Sign and SignAndEncrypt, with a self-signed server
certificate made in DIR. Anonymous login, or only user-name login when --user is given. Namespace
"urn:kubeedge-swift:opcua-test"; under Objects/Device1 one writable variable per built-in type, with string NodeIds
"Device1.<Name>": Boolean, SByte, Byte, Int16, UInt16, Int32, UInt32, Int64, UInt64, Float, Double, String, DateTime,
ByteString, Guid, NodeId, QualifiedName, LocalizedText, Int32Array; and Device1.Counter (Int32), incremented every
--tick seconds (0: never). Prints "READY <endpoint> ns=<index>" once clients can connect."""
import argparse
import asyncio
import datetime
import socket
import uuid
from pathlib import Path

from cryptography.x509.oid import ExtendedKeyUsageOID

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole

INITIAL = {
    "Boolean": (True, ua.VariantType.Boolean),
    "SByte": (-12, ua.VariantType.SByte),
    "Byte": (200, ua.VariantType.Byte),
    "Int16": (-1234, ua.VariantType.Int16),
    "UInt16": (54321, ua.VariantType.UInt16),
    "Int32": (-123456789, ua.VariantType.Int32),
    "UInt32": (3000000000, ua.VariantType.UInt32),
    "Int64": (-9000000000, ua.VariantType.Int64),
    "UInt64": (18000000000000000000, ua.VariantType.UInt64),
    "Float": (3.5, ua.VariantType.Float),
    "Double": (-2.25, ua.VariantType.Double),
    "String": ("pump-1", ua.VariantType.String),
    "DateTime": (datetime.datetime(2026, 12, 3, 10, 0, 0, 250000, tzinfo=datetime.timezone.utc), ua.VariantType.DateTime),
    "ByteString": (b"\x00\x01\xfe\xff", ua.VariantType.ByteString),
    "Guid": (uuid.UUID("72962b91-fa75-4ae6-8d28-b404dc7daf63"), ua.VariantType.Guid),
    "NodeId": (ua.NodeId(1001, 2), ua.VariantType.NodeId),
    "QualifiedName": (ua.QualifiedName("Pump", 2), ua.VariantType.QualifiedName),
    "LocalizedText": (ua.LocalizedText("running", "en"), ua.VariantType.LocalizedText),
    "Int32Array": ([1, 2, 3], ua.VariantType.Int32),
    "Counter": (0, ua.VariantType.Int32),
}


class Users:
    def __init__(self, name, secret):
        self.name, self.secret = name, secret

    def get_user(self, iserver, username=None, password=None, certificate=None):
        if username == self.name and password == self.secret:
            return User(role=UserRole.User)
        return None


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--tick", type=float, default=0.5)
    parser.add_argument("--secure")
    parser.add_argument("--secure-only", action="store_true", help="no SecurityPolicy None endpoint")
    args = parser.parse_args()
    endpoint = f"opc.tcp://127.0.0.1:{args.port}/"
    server = Server(user_manager=Users(args.user, args.password) if args.user else None)
    await server.init()
    server.set_endpoint(endpoint)
    if args.secure:
        from asyncua.crypto.cert_gen import setup_self_signed_certificate
        directory = Path(args.secure)
        directory.mkdir(parents=True, exist_ok=True)
        key, cert = directory / "server-key.pem", directory / "server-cert.der"
        await setup_self_signed_certificate(key, cert, "urn:freeopcua:python:server", socket.gethostname(),
                                            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
                                            {"commonName": "opcua-peer"})
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        secured = [ua.SecurityPolicyType.Basic256Sha256_Sign, ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt]
        server.set_security_policy(secured if args.secure_only else [ua.SecurityPolicyType.NoSecurity] + secured)
    else:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    server.set_identity_tokens([ua.UserNameIdentityToken] if args.user else [ua.AnonymousIdentityToken])
    ns = await server.register_namespace("urn:kubeedge-swift:opcua-test")
    device = await server.nodes.objects.add_object(ua.NodeId("Device1", ns), ua.QualifiedName("Device1", ns))
    variables = {}
    for name, (value, vtype) in INITIAL.items():
        node = await device.add_variable(ua.NodeId(f"Device1.{name}", ns), ua.QualifiedName(name, ns),
                                         ua.Variant(value, vtype))
        await node.set_writable()
        variables[name] = node
    async with server:
        print("READY", endpoint, f"ns={ns}", flush=True)
        counter = 0
        while True:
            await asyncio.sleep(args.tick if args.tick > 0 else 3600)
            if args.tick > 0:
                counter += 1
                await variables["Counter"].write_value(ua.Variant(counter, ua.VariantType.Int32))


if __name__ == "__main__":
    asyncio.run(main())
