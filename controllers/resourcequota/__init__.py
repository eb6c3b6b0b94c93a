"""The ``resourcequota`` controller of kube-controller-manager (see :mod:`.controller`)."""

from controllers.resourcequota.controller import RESOURCEQUOTA, ResourceQuotaController

__all__ = ["RESOURCEQUOTA", "ResourceQuotaController"]
