"""The disruption controller: PodDisruptionBudget status (upstream ``disruption``)."""
