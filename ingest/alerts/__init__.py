"""Alerts: facts recorded by the indexer and the API (`fact`), the rules they match (`rules`),
the Redis-held cooldowns, frequency windows and flood windows (`state`), the messages (`message`)
in each channel's format (`channels`), sent safely (`safety`, `send`) by the deliverer
(`deliverer`), and the API's checks and reply shapes (`admin`)."""
