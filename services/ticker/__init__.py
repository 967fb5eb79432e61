"""The ticker service: asks for the refresh of every active audience once per interval,
catches up after downtime, and re-asks for refreshes whose message was lost."""
