#!/usr/bin/env python3
"""A TCP relay that records what passes (for tests that must see what is on the wire, e.g. that an OPC UA channel is
really encrypted). Standard library only.

   tcp_tap.py --listen PORT --target HOST:PORT --record FILE

Every connection is relayed both ways; FILE gets one line per read: "<connection> <c2s|s2c> <hex>".
Prints "READY <port>" once it listens."""
import argparse
import asyncio
import itertools


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--record", required=True)
    args = parser.parse_args()
    host, port = args.target.rsplit(":", 1)
    record = open(args.record, "a", buffering=1)
    counter = itertools.count(1)

    async def pipe(reader, writer, connection, direction):
        try:
            while data := await reader.read(65536):
                record.write(f"{connection} {direction} {data.hex()}\n")
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
