"""The resource metrics API (``metrics.k8s.io/v1beta1``), served as metrics-server does.

kubemu has no API aggregation layer, so the apiserver serves the API itself, with
metrics-server's parts: :mod:`.scraper` reads every kubelet's ``/metrics/resource`` each
``--metric-resolution``, :mod:`.points` keeps two points per node and container and turns
them into usage, and :mod:`.rest` answers get and list of NodeMetrics and PodMetrics
(``kubectl top``, the horizontal pod autoscaler).
"""
