import DeviceControllerService
import ServiceKit

await DeviceControllerCommand.runAsRoot()
