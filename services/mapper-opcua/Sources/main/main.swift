import MapperOPCUAService
import ServiceKit

await MapperOPCUACommand.runAsRoot()
