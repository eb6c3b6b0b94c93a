"""Authentication, impersonation and authorization stages of the request chain."""
