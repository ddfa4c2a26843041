import MapperOPCUAService
import ServiceKit

await PlaceholderCommand<MapperOPCUA>.runAsRoot()
