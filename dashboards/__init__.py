"""Log Center web console: a Dash multi-page app over the HTTP API."""
