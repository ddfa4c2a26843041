#!/usr/bin/env python3
"""BLE peers for the mapper-ble tests and benchmark (bumble 0.0.236; see ../shared/docs/test-peers.md §6).

One bumble LocalLink with one virtual controller per peripheral, each driven in-process by a bumble host as a GATT
peripheral, and one more controller exposed to the code under test as a standard H4 transport:

    ble_peer.py --central tcp-server:127.0.0.1:PORT --peripheral F0:F0:F0:F0:F0:01,edge-sensor [--peripheral ...]
    ble_peer.py --central pty:/tmp/hci-uart ...          (a UART-like pty instead)

Each peripheral (random static address, connectable advertising with its name, restarted after a disconnect):
    0x180F / 0x2A19 battery uint8 87 (read, notify)
    12345678-1234-5678-1234-56789abcdef0:
        ...def1 temperature int16 LE, centi-degC, 2150, +1 every --tick seconds (read, notify)
        ...def2 setpoint 4 bytes (read, write)        ...def3 label "pump-1" (read)
        ...def4 power 1 byte, 0 or 1 (read, write)     ...def5 alarm uint8 (read, indicate)

Commands on stdin, one per line (ADDR is a peripheral's address):
    away ADDR          disconnect and stop advertising (out of range)
    back ADDR          advertise again
    temp ADDR VALUE    set the temperature and notify it now (prints "NOTIFIED ADDR VALUE <unix time>")
    alarm ADDR VALUE   set the alarm and indicate it
Prints READY once every peripheral advertises, "setpoint ADDR <hex>" / "power ADDR <hex>" on writes,
"connected ADDR" and "disconnected ADDR".
"""
import argparse
import asyncio
import struct
import sys
import time

from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import Address
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink

BASE = "12345678-1234-5678-1234-56789abcdef"
R, W, N, I = Characteristic.READ, Characteristic.WRITE, Characteristic.NOTIFY, Characteristic.INDICATE
READABLE, WRITEABLE = Characteristic.READABLE, Characteristic.WRITEABLE


class Peripheral:
    def __init__(self, link, index, address, name):
        self.address, self.name = address, name
        self.controller = Controller(f"P{index}", link=link)
        self.device = Device.with_hci(name, Address(address), self.controller, AsyncPipeSink(self.controller))
        self.state = {"temp": 2150, "setpoint": b"\x01\x02\x03\x04", "power": b"\x00", "alarm": 0}
        self.present = True

        def store(key):
            def write(conn, value):
                self.state[key] = bytes(value)
                print(key, self.address, bytes(value).hex(), flush=True)
            return write

        self.temp = Characteristic(BASE + "1", R | N, READABLE,
                                   CharacteristicValue(read=lambda conn: struct.pack("<h", self.state["temp"])))
        self.alarm = Characteristic(BASE + "5", R | I, READABLE,
                                    CharacteristicValue(read=lambda conn: bytes([self.state["alarm"]])))
        self.device.add_services([
            Service("180F", [Characteristic("2A19", R | N, READABLE, bytes([87]))]),
            Service(BASE + "0", [
                self.temp,
                Characteristic(BASE + "2", R | W, READABLE | WRITEABLE,
                               CharacteristicValue(read=lambda conn: self.state["setpoint"], write=store("setpoint"))),
                Characteristic(BASE + "3", R, READABLE, b"pump-1"),
                Characteristic(BASE + "4", R | W, READABLE | WRITEABLE,
                               CharacteristicValue(read=lambda conn: self.state["power"], write=store("power"))),
                self.alarm,
            ]),
        ])
        self.device.on("connection", self.on_connection)

    def on_connection(self, connection):
        print("connected", self.address, flush=True)
        connection.on("disconnection", lambda reason: print("disconnected", self.address, flush=True))

    async def start(self):
        await self.device.power_on()
        self.device.advertising_data = bytes(AdvertisingData([
            (AdvertisingData.FLAGS, bytes([0x06])),
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
            (AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, bytes.fromhex("0f18")),
        ]))
        await self.device.start_advertising(auto_restart=True)

    async def away(self):
        self.present = False
        await self.device.stop_advertising()
        for connection in list(self.device.connections.values()):
            await connection.disconnect()

    async def back(self):
        self.present = True
        await self.device.start_advertising(auto_restart=True)

    async def set_temp(self, value):
        self.state["temp"] = value
        await self.device.notify_subscribers(self.temp)
        print("NOTIFIED", self.address, value, f"{time.time():.6f}", flush=True)

    async def set_alarm(self, value):
        self.state["alarm"] = value
        await self.device.indicate_subscribers(self.alarm)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--central", required=True, help="bumble transport for the code under test")
    parser.add_argument("--peripheral", action="append", default=[], help="ADDRESS,NAME")
    parser.add_argument("--tick", type=float, default=1.0, help="temperature step period (0: only on command)")
    args = parser.parse_args()

    link = LocalLink()
    transport = await open_transport(args.central)
    Controller("C", host_source=transport.source, host_sink=transport.sink, link=link)
    peripherals = {}
    for index, spec in enumerate(args.peripheral or ["F0:F0:F0:F0:F0:01,edge-sensor"]):
        address, name = spec.split(",", 1)
        peripherals[address.upper()] = Peripheral(link, index, address.upper(), name)
    for peripheral in peripherals.values():
        await peripheral.start()
    print("READY", flush=True)

    async def tick():
        while args.tick > 0:
            await asyncio.sleep(args.tick)
            for peripheral in peripherals.values():
                if peripheral.present:
                    peripheral.state["temp"] += 1
                    await peripheral.device.notify_subscribers(peripheral.temp)

    async def commands():
        reader = asyncio.StreamReader()
        await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            words = line.decode().split()
            if len(words) < 2 or words[1].upper() not in peripherals:
                print("bad command", line.decode().strip(), flush=True)
                continue
            peripheral = peripherals[words[1].upper()]
            try:
                if words[0] == "away":
                    await peripheral.away()
                elif words[0] == "back":
                    await peripheral.back()
                elif words[0] == "temp":
                    await peripheral.set_temp(int(words[2]))
                elif words[0] == "alarm":
                    await peripheral.set_alarm(int(words[2]))
                print("done", words[0], peripheral.address, flush=True)
            except Exception as error:  # report and go on: the test sees it in the log
                print("command failed", words, error, flush=True)
        await asyncio.get_running_loop().create_future()  # stdin closed: keep serving

    await asyncio.gather(tick(), commands())


asyncio.run(main())
