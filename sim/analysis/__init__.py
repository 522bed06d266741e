"""Pure analysis of results: survival, statistics, metrics, offered load."""
