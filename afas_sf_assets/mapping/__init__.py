"""The data mapper: YAML mapping files → pure functions from an AFAS row to a Salesforce record."""
