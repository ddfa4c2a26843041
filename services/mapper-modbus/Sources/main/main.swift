import MapperModbusService
import ServiceKit

await PlaceholderCommand<MapperModbus>.runAsRoot()
