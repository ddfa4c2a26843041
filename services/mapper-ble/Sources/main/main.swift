import MapperBLEService
import ServiceKit

await PlaceholderCommand<MapperBLE>.runAsRoot()
