import APIServerService
import ServiceKit

await APIServerCommand.runAsRoot()
