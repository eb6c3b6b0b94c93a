"""kube-proxy: change trackers, a bounded-frequency sync loop and four dataplanes.

``types``, ``change_tracker``, ``runner`` and ``roundrobin`` know nothing of any
backend; ``userspace`` (asyncio sockets), ``iptables``, ``nftables`` and
``ipvs`` only translate the service-port and endpoints maps into their dataplane.
"""
