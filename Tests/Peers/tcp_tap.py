#!/usr/bin/env python3
"""A TCP relay that records what passes (for tests that must see what is on the wire, e.g. that an OPC UA channel is
really encrypted). Standard library only.

   tcp_tap.py --listen PORT --target HOST:PORT --record FILE [--drop-publish N]

Every connection is relayed both ways; FILE gets one line per read: "<connection> <c2s|s2c> <hex>".
--drop-publish N: the N-th OPC UA PublishResponse that carries data (SecurityPolicy None), server to client, is
dropped instead of relayed, as a lossy network would (a line "<connection> dropped <hex>" records it).
Prints "READY <port>" once it listens."""
import argparse
import asyncio
import itertools


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--drop-publish", type=int, default=0)
    args = parser.parse_args()
    publishes = itertools.count(1)
    host, port = args.target.rsplit(":", 1)
    record = open(args.record, "a", buffering=1)
    counter = itertools.count(1)

    def keep(chunk, connection):
        # MSG chunk: header 8, channel 4, token 4, sequence 8, then the type NodeId (four-byte form, 829 =
        # PublishResponse). Keep-alives are short; one with a data change is longer.
        if not args.drop_publish or chunk[:3] != b"MSG" or chunk[24:28] != bytes([1, 0, 0x3D, 0x03]) or len(chunk) < 110:
            return True
        if next(publishes) != args.drop_publish:
            return True
        record.write(f"{connection} dropped {chunk.hex()}\n")
        return False

    async def pipe(reader, writer, connection, direction):
        pending = b""
        try:
            while data := await reader.read(65536):
                record.write(f"{connection} {direction} {data.hex()}\n")
                if direction == "s2c" and args.drop_publish:
                    pending += data
                    out = b""
                    while len(pending) >= 8 and len(pending) >= int.from_bytes(pending[4:8], "little"):
                        size = int.from_bytes(pending[4:8], "little")
                        chunk, pending = pending[:size], pending[size:]
                        if keep(chunk, connection):
                            out += chunk
                    data = out
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def handle(client_reader, client_writer):
        connection = next(counter)
        try:
            server_reader, server_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer, connection, "c2s"),
                             pipe(server_reader, client_writer, connection, "s2c"))

    server = await asyncio.start_server(handle, "127.0.0.1", args.listen)
    print("READY", args.listen, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
