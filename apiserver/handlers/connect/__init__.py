"""The connect subresources: streams to the kubelet (``pods/log``, ``pods/exec``,
``pods/attach``, ``pods/portforward``) and the ``proxy`` subresources of pods, services
and nodes (see :mod:`.routes`)."""
