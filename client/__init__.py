"""The one client of the Log Center HTTP API (`client.http`) and the shapes it answers with
(`client.shapes`).

It sits below `ingest`, `agent` and `dashboards`: the API serves these shapes, the agent and the
dashboard read them, and none of the three has to import another to do so.
"""
