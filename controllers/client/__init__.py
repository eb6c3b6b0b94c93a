"""Our small client-go: REST client, reflector, store/indexer, informers, work queue.

Controllers (the endpoints controller, kube-proxy, later ones) build on this
package; it talks to the apiserver only over HTTP and imports nothing from the
apiserver but the pure API types (:mod:`apiserver.api`).
"""

from controllers.client.config import ClientConfig, ConfigError, config_from_flags, load_kubeconfig
from controllers.client.errors import ApiError, is_already_exists, is_conflict, is_not_found
from controllers.client.informer import SharedInformer, SharedInformerFactory, wait_for_cache_sync
from controllers.client.reflector import Reflector
from controllers.client.rest import RestClient
from controllers.client.store import DeletedFinalStateUnknown, Store, meta_namespace_key
from controllers.client.workqueue import RateLimitingQueue, ShutDown, WorkQueue

__all__ = [
    "ApiError",
    "ClientConfig",
    "ConfigError",
    "DeletedFinalStateUnknown",
    "RateLimitingQueue",
    "Reflector",
    "RestClient",
    "SharedInformer",
    "SharedInformerFactory",
    "ShutDown",
    "Store",
    "WorkQueue",
    "config_from_flags",
    "is_already_exists",
    "is_conflict",
    "is_not_found",
    "load_kubeconfig",
    "meta_namespace_key",
    "wait_for_cache_sync",
]
