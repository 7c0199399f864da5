/** The JSON report's schemaVersion, apart from the schema itself so that writing a report does not build the schema. Bump it for a breaking change. */
export const SCHEMA_VERSION = 1;
