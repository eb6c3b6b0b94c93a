"""CustomResourceDefinitions and the custom resources they define."""
