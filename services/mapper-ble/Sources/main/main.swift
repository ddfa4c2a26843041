import MapperBLEService
import ServiceKit

await MapperBLECommand.runAsRoot()
