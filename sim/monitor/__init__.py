"""Monitoring: logs written during a replication and the tables built from them."""
