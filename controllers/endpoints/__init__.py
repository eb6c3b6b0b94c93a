"""The endpoints controller process: Endpoints, EndpointSlices and their mirroring.

``python -m controllers.endpoints --kubeconfig FILE`` (or ``--server URL``).
The pure parts (subset building, repacking, slice planning) are importable for
tests; the controllers read only informer caches and write over HTTP.
"""
