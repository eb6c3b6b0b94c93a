"""The service-lb controller process: LoadBalancer ingress IPs from an address pool.

``python -m controllers.servicelb --kubeconfig FILE --address-pool 127.240.0.0/24``
(like k3s's ServiceLB or MetalLB in layer-2 mode). The pool parsing and the
reconcile decisions are importable for tests; the controller reads only the
Service informer cache and writes ``/status`` and Events over HTTP.
"""
