// The Table answers for kubectl: built-in kinds through TablePrinter, custom resources through their CRD
// version's additionalPrinterColumns.

import EdgeProtocol
import Foundation

enum Tables {
    static func list(
        _ info: ResourceInfo, _ items: [JSONValue], resourceVersion: String, continueToken: String?,
        includeObject: IncludeObject
    ) -> JSONValue {
        let now = Date()
        if let custom = info.custom {
            let columns = CustomResourceChecks.printerColumns(custom)
            return TablePrinter.customTable(
                columns: columns.map(\.column),
                rows: items.map { ($0, CustomResourceChecks.printerCells(columns, $0, now: now)) },
                resourceVersion: resourceVersion, continueToken: continueToken, includeObject: includeObject, now: now)
        }
        return TablePrinter.table(kind: info.kind, group: info.group, objects: items, resourceVersion: resourceVersion,
                                  continueToken: continueToken, includeObject: includeObject, now: now)
    }

    static func single(
        _ info: ResourceInfo, _ object: JSONValue, includeObject: IncludeObject, includeColumns: Bool = true
    ) -> JSONValue {
        let now = Date()
        if let custom = info.custom {
            let columns = CustomResourceChecks.printerColumns(custom)
            return TablePrinter.customTable(
                columns: columns.map(\.column), object: object,
                cells: CustomResourceChecks.printerCells(columns, object, now: now), includeObject: includeObject,
                includeColumns: includeColumns, now: now)
        }
        return TablePrinter.table(kind: info.kind, group: info.group, object: object, includeObject: includeObject,
                                  includeColumns: includeColumns, now: now)
    }
}
