"""Scenarios and their URLs, the cost model that caps them, and the documents the CLI prints
and the pages export."""
