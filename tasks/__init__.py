"""Stage logic of the akhbar pipeline: plain typed functions, no Prefect imports.

fetch -> clean -> segment -> annotate -> write, with schemas, config and errors beside them.
"""
