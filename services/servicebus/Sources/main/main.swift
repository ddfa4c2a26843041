import ServiceBusService
import ServiceKit

await ServiceBusCommand.runAsRoot()
