#!/usr/bin/env python3
"""Modbus test peer for the mapper tests and benchmarks (pymodbus 3.16.x; venv from scripts/setup-peers.sh).

   modbus_peer.py tcp --port PORT [--host 127.0.0.1]   Modbus TCP
   modbus_peer.py rtu --serial PTY_PATH [--baud 19200]  Modbus RTU on a tty (one end of a socat pty pair)

Device id 1 (--unit N to change; other ids get exception 4). Wire addresses (0-based, as sent in the PDU) 0..999:
   holding HR[N] = 100+N (mod 65536)   input IR[N] = 200+N   coil CO[N] = N even   discrete DI[N] = N % 3 == 0
overridden by
   --hr ADDR=V1,V2,...   --ir ADDR=V1,...   --co ADDR=0,1,...   --di ADDR=1,0,...   (raw 16-bit words / bits)
Prints "READY <mode> <port|path>" just before it starts serving (tests then poll with a client read)."""
import argparse, asyncio
from pymodbus import FramerType
from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer

SIZE = 1000


def block(values):
    # The device context adds 1 to every wire address before it reads the block,
    # so a block that starts at 1 serves wire address 0.
    return ModbusSequentialDataBlock(1, list(values))


def overrides(specs, values, conv):
    for spec in specs or []:
        addr, _, items = spec.partition("=")
        for i, item in enumerate(items.split(",")):
            values[int(addr) + i] = conv(item)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("tcp", "rtu"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5020)
    p.add_argument("--serial")
    p.add_argument("--baud", type=int, default=19200)
    p.add_argument("--unit", type=int, default=1)
    for kind in ("hr", "ir", "co", "di"):
        p.add_argument(f"--{kind}", action="append")
    a = p.parse_args()
    r = range(SIZE)
    hr = [(100 + n) % 65536 for n in r]
    ir = [(200 + n) % 65536 for n in r]
    co = [n % 2 == 0 for n in r]
    di = [n % 3 == 0 for n in r]
    word = lambda s: int(s, 0) & 0xFFFF
    bit = lambda s: s.strip().lower() in ("1", "true", "on")
    overrides(a.hr, hr, word); overrides(a.ir, ir, word); overrides(a.co, co, bit); overrides(a.di, di, bit)
    dev = ModbusDeviceContext(hr=block(hr), ir=block(ir), co=block(co), di=block(di))
    ctx = ModbusServerContext(devices={a.unit: dev}, single=False)
    print("READY", a.mode, a.port if a.mode == "tcp" else a.serial, flush=True)
    if a.mode == "tcp":
        await StartAsyncTcpServer(context=ctx, address=(a.host, a.port), framer=FramerType.SOCKET)
    else:
        await StartAsyncSerialServer(context=ctx, port=a.serial, baudrate=a.baud, framer=FramerType.RTU,
                                     bytesize=8, parity="N", stopbits=1)


asyncio.run(main())
