"""Salesforce client on simple-salesforce: OAuth, collections and Bulk 2.0 upserts, streaming SOQL."""
