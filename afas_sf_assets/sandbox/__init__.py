"""Sandboxes: real HTTP servers that speak AFAS's and Salesforce's wire formats, for tests and demos."""
