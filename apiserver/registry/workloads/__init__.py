"""Strategies and validation of workload kinds: apps/v1, ReplicationControllers, batch/v1."""
