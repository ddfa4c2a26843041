// What the API server asks of a CRD: the resources it serves, its own validity, admission of custom objects
// (dedup, defaults, pruning, schema) and its printer columns.

import EdgeProtocol
import Foundation

public enum CustomResourceChecks {
    /// One ResourceInfo per served version.
    public static func resources(of definition: CRDDefinition, crdName: String) -> [ResourceInfo] {
        definition.versions.filter(\.served).map { version in
            ResourceInfo(
                group: definition.group, version: version.name, plural: definition.names.plural,
                singular: definition.names.singular, kind: definition.names.kind,
                namespaced: definition.isNamespaced, shortNames: definition.names.shortNames,
                categories: definition.names.categories,
                subresources: version.subresources.status ? ["status"] : [],
                custom: CustomResourceVersion(crdName: crdName, definition: definition, versionName: version.name))
        }
    }

    public static func validateCRD(_ object: JSONValue) -> [FieldError] {
        CRDDefinition(object).validate()
    }

    public struct Admission {
        public var errors: [FieldError]
        public var strictDecodingError: String?
        public var warnings: [String]
    }

    /// Admits `object` for `version`: on success `object` becomes what is stored (defaulted, pruned).
    public static func admit(_ object: inout JSONValue, version: CustomResourceVersion, fieldValidation: String) -> Admission {
        guard let schemaVersion = version.definition.version(named: version.versionName) else {
            return Admission(errors: [], strictDecodingError: nil, warnings: [])
        }
        let mode = SchemaValidator.FieldValidation(rawValue: fieldValidation) ?? .warn
        let admission = schemaVersion.validator.admit(object, fieldValidation: mode)
        if admission.isAccepted { object = admission.object }
        return Admission(errors: admission.errors, strictDecodingError: admission.strictDecodingError,
                         warnings: admission.warnings)
    }

    /// The declared printer columns of a version (none: the table shows Name and Age).
    public static func printerColumns(_ version: CustomResourceVersion) -> [(column: TableColumn, path: JSONPathColumn)] {
        guard let schemaVersion = version.definition.version(named: version.versionName) else { return [] }
        return schemaVersion.additionalPrinterColumns.compactMap { declared in
            guard let path = try? JSONPathColumn(declared) else { return nil }
            let column = TablePrinter.customColumn(
                name: declared.name, type: declared.type, format: declared.format, description: declared.description,
                priority: declared.priority, jsonPath: declared.jsonPath)
            return (column, path)
        }
    }

    public static func printerCells(
        _ columns: [(column: TableColumn, path: JSONPathColumn)], _ object: JSONValue, now: Date
    ) -> [JSONValue] {
        columns.map { column in
            TablePrinter.customCell(type: column.column.type, value: column.path.results(in: object).first, now: now)
        }
    }
}
