"""Importers: a working config from what a backend publishes (ODBC catalogue, WSDL, OpenAPI)."""
