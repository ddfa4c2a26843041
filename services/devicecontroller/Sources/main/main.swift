import DeviceControllerService
import ServiceKit

await PlaceholderCommand<DeviceController>.runAsRoot()
