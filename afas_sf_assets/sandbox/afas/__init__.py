"""The AFAS Profit sandbox: SQLite-backed, served over HTTP by Starlette."""
