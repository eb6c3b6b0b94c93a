"""kube-proxy: change trackers, a bounded-frequency sync loop and four dataplanes.

``types``, ``change_tracker``, ``runner`` and ``roundrobin`` know nothing of any
backend; ``userspace`` (asyncio sockets), ``iptables`` (+ ``iptables_service``),
``nftables`` and ``ipvs`` only translate the service-port and endpoints maps into their
dataplane, and ``rules`` applies the iptables and nftables ones. ``server`` wires the
informers to the proxier; ``addresses`` decides which external IPs are this node's;
``health`` serves ``/healthz``, ``/livez`` and the health-check node ports; ``flags`` and
``app`` are the command line on the shared agent runtime.
"""
