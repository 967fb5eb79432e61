"""What the Gurulu Audiences services share: settings, message contracts, the ClickHouse
schema and its migrations, the rule language and its SQL compiler, and the stores' queries
that more than one service reads."""
