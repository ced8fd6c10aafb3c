"""The Salesforce sandbox: REST, sObject Collections, composite, SOQL, Bulk API 2.0, OAuth and SOAP login."""
