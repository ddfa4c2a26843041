import MapperModbusService
import ServiceKit

await MapperModbusCommand.runAsRoot()
