#!/usr/bin/env python3
"""A fake BLE controller and peripheral speaking raw H4 over TCP, for robustness tests of a BLE host: it answers the
start-up commands, scanning and connecting like a controller, but feeds malformed input on purpose. Standard library
only. It is a fake (no real controller can be made to misbehave on demand); bumble serves the behaviour tests.

    hci_fake.py --port PORT --address F0:F0:F0:F0:F0:01

Each scan gets an unknown event, a truncated advertising report, a truncated extended report and an advertising
report whose data overruns, then a good report of --address. Per LE connection N (1, 2, ...):
  - N = 1: the Exchange MTU answer is truncated, then an ATT PDU with an unknown opcode, an ACL continuation with no
    start and an L2CAP frame longer than its ACL data (the host must fail that attempt and connect again);
  - N = 2: a small GATT database (battery 0x2A19 = 87, readable), with a notification for an unknown handle and an
    indication with no handle in between; after 6 reads a packet of unknown H4 type (the stream is out of sync: the
    host must drop the transport and open a new one);
  - N >= 3: the same database, well behaved.
Prints "READY <port>" once it listens, "transport N" on each transport connection, "link N" on each LE connection
and "reads N" after each read on it."""
import argparse
import asyncio
import struct

H4_CMD, H4_ACL, H4_EVT = 1, 2, 4


def event(code, params):
    return bytes([H4_EVT, code, len(params)]) + params


def complete(opcode, params=b"\x00"):
    return event(0x0E, bytes([1]) + struct.pack("<H", opcode) + params)


def status(opcode, code=0):
    return event(0x0F, bytes([code, 1]) + struct.pack("<H", opcode))


def acl(handle, data, boundary=0b10):
    return bytes([H4_ACL]) + struct.pack("<HH", handle | boundary << 12, len(data)) + data


def att(handle, pdu):
    return acl(handle, struct.pack("<HH", len(pdu), 4) + pdu)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--address", default="F0:F0:F0:F0:F0:01")
    args = parser.parse_args()
    address = bytes(reversed(bytes.fromhex(args.address.replace(":", ""))))
    connections = 0
    links = 0
    good_report = event(0x3E, bytes([0x02, 1, 0x00, 0x01]) + address + bytes([3, 2, 1, 6, 0xC4]))

    async def serve(reader, writer):
        nonlocal connections, links
        connections += 1
        print("transport", connections, flush=True)
        number = 0  # the LE connection
        handle = 0x0040
        reads = 0
        buffer = b""

        def send(data):
            writer.write(data)

        # The GATT database of connection 2 and later: one service, the battery level.
        def answer(pdu):
            nonlocal reads
            op = pdu[0]
            if op == 0x02:
                return b"\x03" + struct.pack("<H", 64)
            if op == 0x10:  # primary services
                start = struct.unpack_from("<H", pdu, 1)[0]
                return b"\x11\x06\x01\x00\x03\x00\x0f\x18" if start <= 1 else b"\x01\x10" + pdu[1:3] + b"\x0a"
            if op == 0x08:  # characteristics
                start = struct.unpack_from("<H", pdu, 1)[0]
                return b"\x09\x07\x02\x00\x02\x03\x00\x19\x2a" if start <= 2 else b"\x01\x08" + pdu[1:3] + b"\x0a"
            if op == 0x04:
                return b"\x01\x04" + pdu[1:3] + b"\x0a"
            if op == 0x0A:
                reads += 1
                print("reads", reads, flush=True)
                return b"\x0b" + bytes([87])
            return b"\x01" + bytes([op]) + b"\x00\x00\x06"

        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                buffer += data
                while buffer:
                    kind = buffer[0]
                    if kind == H4_CMD and len(buffer) >= 4 and len(buffer) >= 4 + buffer[3]:
                        opcode = struct.unpack_from("<H", buffer, 1)[0]
                        params = buffer[4:4 + buffer[3]]
                        buffer = buffer[4 + buffer[3]:]
                        if opcode == 0x2002:
                            send(complete(opcode, b"\x00" + struct.pack("<HB", 27, 4)))
                        elif opcode == 0x200C and params[:1] == b"\x01":
                            send(complete(opcode))
                            send(event(0x99, b"\x01\x02\x03"))                       # unknown event
                            send(event(0x3E, bytes([0x02, 2, 0x00, 0x01]) + address))  # truncated report
                            send(event(0x3E, bytes([0x0D, 1, 0x13])))                # truncated extended report
                            send(event(0x3E, bytes([0x02, 1, 0x00, 0x01]) + address + bytes([40, 1, 2])))
                            send(good_report)
                        elif opcode == 0x200D:
                            links += 1
                            number, reads = links, 0
                            print("link", number, flush=True)
                            send(status(opcode))
                            send(event(0x3E, bytes([0x01, 0x00]) + struct.pack("<H", handle) + bytes([0, 1]) + address
                                       + struct.pack("<HHH", 24, 0, 400) + b"\x00"))
                        elif opcode == 0x0406:
                            send(status(opcode))
                            send(event(0x05, b"\x00" + struct.pack("<H", handle) + b"\x16"))
                            send(event(0x13, b"\x01" + struct.pack("<HH", handle, 1)))
                        else:
                            send(complete(opcode))
                    elif kind == H4_ACL and len(buffer) >= 5 and len(buffer) >= 5 + struct.unpack_from("<H", buffer, 3)[0]:
                        length = struct.unpack_from("<H", buffer, 3)[0]
                        frame = buffer[5:5 + length]
                        buffer = buffer[5 + length:]
                        send(event(0x13, b"\x01" + struct.pack("<HH", handle, 1)))   # the buffer is free again
                        pdu = frame[4:]
                        if number == 1:
                            send(att(handle, b"\x03\x40"))                        # truncated MTU answer
                            send(att(handle, b"\x7f\x01\x02"))                    # unknown opcode
                            send(acl(handle, b"\x01\x02\x03", boundary=0b01))      # continuation without start
                            send(acl(handle, struct.pack("<HH", 200, 4) + b"\x0b"))  # frame longer than its data
                        else:
                            if number == 2 and pdu[:1] == b"\x0a":
                                send(att(handle, b"\x1b\x99\x00\x01"))            # notification, unknown handle
                                send(att(handle, b"\x1d"))                        # indication without a handle
                            send(att(handle, answer(pdu)))
                            if number == 2 and reads >= 6:
                                send(b"\x09\x09\x09\x09")                         # unknown H4 type
                    elif kind not in (H4_CMD, H4_ACL):
                        buffer = b""
                    else:
                        break
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", args.port)
    print("READY", args.port, flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
