"""Authentication, impersonation and authorization checks of the request chain."""
