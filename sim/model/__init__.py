"""The pipeline model: entities, population, stations, routing, one replication."""
