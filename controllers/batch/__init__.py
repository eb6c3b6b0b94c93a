"""The batch controllers of kube-controller-manager.

``job``, ``cronjob`` and ``ttl-after-finished``.
"""
